"""The replay's replace of a range is atomic: stopped at any step, the store holds the old range
or the new one, both tables whole; rows outside the range are refused; live writes land once.

A replace is driven step by step (fwjr.store.replace.RangeReplace) on a real embedded store and
"killed" after each step (the remaining steps are not run), then the store is recovered as
the worker does when it opens it (fwjr.store.replace.recover_replaces).
"""

from __future__ import annotations

import threading
import time

import orjson
import pyarrow as pa
import pytest

from fwjr.aggregate import VALUE_COLUMNS
from fwjr.bucket import bucket_start
from fwjr.model import ERROR_KEYS, SCOPE_KEYS
from fwjr.store import reads, schema
from fwjr.store import replace as store_replace
from fwjr.store.connection import Store, connect
from fwjr.store.migrate import migrate
from fwjr.synth.feed import generate_documents
from streams.checkpoint import CommitProtocol
from streams.pipeline import Message, Pipeline
from streams.sink import store_tables
from tests.fixtures import store_helpers
from tests.fixtures.store import LADDER, agg_row, empty  # noqa: F401

DAY = 86400
# Mid-month, up to a month back, so that the day before and after the range lie in the same
# month partition; the ladder's ages are set far out so that no TTL rollup regroups the rows
# between two looks at them.
START = bucket_start(int(time.time()) - DAY, "day")
while time.gmtime(START).tm_mday < 3 or time.gmtime(START).tm_mday > 26:
    START -= DAY
END = START + DAY
STEPS = ("staged:agg", "staged:errors", "committed", "swapped:agg", "swapped:errors", "finished")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory):
    opened = connect(path=tmp_path_factory.mktemp("replace") / "store")
    migrate(opened, {**LADDER, "minute_days": 3650, "hour_days": 3650, "day_days": 3650})
    yield opened
    opened.close()


def _error(bucket: int, n: int, site: str) -> dict:
    return {"bucket": bucket, "workflow": "wf", "task": "t", "step": "cmsRun1", "site": site, "exit_code": 8021,
            "retry_count": 0, "signature": f"sig-{site}", "count": n}


def _old(db: Store) -> None:
    """The stored version: rows inside the range, and beside it in the same month and the month before."""
    inside = [agg_row(START + 60 * m, seed=1 + m % 3, site="T2_OLD") for m in range(0, 600, 37)]
    beside = [agg_row(b, seed=5, site="T2_KEEP") for b in (START - 3600, END + 120, START - 40 * DAY)]
    store_helpers.insert_aggregates(db, inside + beside, batch="fwjr.raw/0/0-99")
    store_helpers.insert_errors(db, [_error(START + 60 * m, 2, "T2_OLD") for m in range(0, 600, 53)] + [_error(END + 60, 4, "T2_KEEP")],
                        batch="fwjr.raw/0/0-99")


def _new(seed: int) -> tuple[pa.Table, pa.Table]:
    """A replay's version of the range: different sites and counts from the stored one."""
    rows = [agg_row(START + 3600 * h, seed=seed, site=f"T1_NEW{seed}") for h in range(0, 24, 5)]
    agg = pa.table({c: [r[c] for r in rows] for c in ("bucket",) + SCOPE_KEYS + VALUE_COLUMNS})
    errors = [_error(START + 3600 * h, seed, f"T1_NEW{seed}") for h in range(0, 24, 7)]
    return agg, pa.table({c: [r[c] for r in errors] for c in ("bucket",) + ERROR_KEYS + ("count",)})


def _version(db: Store) -> tuple[list, list, list, list]:
    """The range's rows of both tables, and every row outside it, as stored (batch ids left out)."""
    outside = [store_helpers.stored_rows(db, table, 0, START) + store_helpers.stored_rows(db, table, END, 2 * END) for table in ("agg", "errors")]
    return store_helpers.stored_rows(db, "agg", START, END), store_helpers.stored_rows(db, "errors", START, END), *outside


@pytest.fixture
def db(empty: Store) -> Store:  # noqa: F811
    store_helpers.truncate(empty, "replace_journal")
    _old(empty)
    return empty


def _run_until(replace: store_replace.RangeReplace, step: str) -> None:
    """The steps of RangeReplace.run, stopping after `step`: a kill at that point."""
    for table in schema.REPLACED_TABLES:
        replace.stage(table)
        if step == f"staged:{table}":
            return
    replace.commit()
    if step == "committed":
        return
    for table in schema.REPLACED_TABLES:
        replace.swap(table)
        if step == f"swapped:{table}":
            return
    replace.finish()


@pytest.mark.parametrize("step", STEPS)
def test_a_replace_killed_after_any_step_leaves_the_old_range_or_the_new_one_whole(db: Store, step: str) -> None:
    old = _version(db)
    store_replace.replace_range(db, START, END, *_new(7), "replay:new")
    new = _version(db)
    store_replace.replace_range(db, START, END, *_new(7), "replay:again")
    assert _version(db) == new and new[:2] != old[:2] and new[2:] == old[2:]
    store_helpers.truncate(db, "agg")
    store_helpers.truncate(db, "errors")
    _old(db)

    _run_until(store_replace.RangeReplace(db, START, END, *_new(7), "replay:killed"), step)
    if step == "swapped:agg":  # the state a reader must never see: agg of the new version, errors of the old
        assert _version(db)[0] == new[0] and _version(db)[1] == old[1]
    recovery = store_replace.recover_replaces(db)

    committed = STEPS.index(step) >= STEPS.index("committed")
    assert _version(db) == (new if committed else old)
    assert recovery.finished == (["replay:killed"] if committed and step != "finished" else [])
    assert recovery.dropped == ([] if committed else ["agg_replay_staging", "errors_replay_staging"][: 1 + (step != "staged:agg")])
    assert recovery.abandoned == []
    assert store_replace.recover_replaces(db) == store_replace.ReplaceRecovery([], [], [])


def test_a_committed_replace_whose_staging_is_gone_is_reported_not_half_finished(db: Store) -> None:
    old = _version(db)
    replace = store_replace.RangeReplace(db, START, END, *_new(5), "replay:orphan")
    _run_until(replace, "committed")
    for staging, _ in schema.REPLACED_TABLES.values():
        db.command(f"DROP TABLE {staging}")
    assert store_replace.recover_replaces(db) == store_replace.ReplaceRecovery([], [], ["replay:orphan"])
    assert _version(db) == old  # nothing was swapped: the range is still the old one, whole
    assert store_replace.recover_replaces(db) == store_replace.ReplaceRecovery([], [], [])


def test_rows_outside_the_range_are_refused_before_the_store_is_touched(db: Store) -> None:
    before = _version(db)
    agg, errors = _new(3)
    late = pa.table({c: [END + 60] if c == "bucket" else errors.column(c).to_pylist()[:1] for c in errors.column_names})
    with pytest.raises(ValueError, match=rf"replay rows for errors have buckets {END + 60}\.\.{END + 60}, outside the range \[{START}, {END}\)"):
        store_replace.replace_range(db, START, END, agg, late, "replay:bad")
    assert _version(db) == before
    assert store_replace.recover_replaces(db) == store_replace.ReplaceRecovery([], [], [])


def _live_writes(db: Store, stop: threading.Event, written: list[int]) -> None:
    """The stream worker's real write path, into the range's month but outside the range."""
    pipeline, offset = Pipeline(), 0
    protocol = CommitProtocol(db, dedupe_days=1)
    seed = 100
    while not stop.is_set():
        docs = generate_documents(40, seed, start_ts=END + 3600, minutes=30, malformed_share=0, duplicate_share=0)
        messages = [Message("fwjr.raw", 0, offset + n, orjson.dumps(doc)) for n, doc in enumerate(docs)]
        flush = pipeline.process(messages)
        protocol.write(store_tables(flush))
        written.append(sum(len(part.jobs) for part in flush.partitions))
        offset, seed = offset + len(messages), seed + 1


def test_live_writes_during_replaces_land_once_and_readers_see_one_version(db: Store) -> None:
    versions = {}
    for seed in (4, 9):
        store_replace.replace_range(db, START, END, *_new(seed), f"replay:{seed}")
        versions[seed] = _version(db)[:2]
    stop, written, seen = threading.Event(), [], []
    writer = threading.Thread(target=_live_writes, args=(db, stop, written))

    def read() -> None:
        while not stop.is_set():
            with db._lock:  # one reader's view: both tables read as one
                seen.append(_version(db)[:2])

    reader = threading.Thread(target=read)
    writer.start()
    reader.start()
    try:
        for n in range(6):
            seed = (4, 9)[n % 2]
            store_replace.replace_range(db, START, END, *_new(seed), f"replay:{seed}")
    finally:
        stop.set()
        writer.join()
        reader.join()
    assert len(written) >= 2 and len(seen) >= 2
    assert all(view in versions.values() for view in seen), "a reader saw the tables of two versions"
    kept_after_the_range = 15  # the stored row at END + 120 (agg_row seed 5)
    assert reads.totals(db, END, END + DAY)["jobs"] == sum(written) + kept_after_the_range
    assert _version(db)[:2] == versions[9]
