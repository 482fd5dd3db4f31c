"""The board's reads stay exact whatever the store did to its rows: TTL rollups, crashed-flush
deletes and replay range replaces.

Reads without a scope filter or grouping (the overview's headline and series, the explorer's
unfiltered totals) are answered from the `p_totals` projection (sql/0015), the others from the
table; the engine rebuilds each part's projection on every merge, rollup and delete. Each
expectation below is computed in Python from the rows written.
"""

from __future__ import annotations

import time
from collections import Counter

import pyarrow as pa
import pytest

from fwjr.bucket import bucket_start
from fwjr.model import ERROR_KEYS, SCOPE_KEYS
from fwjr.store import alerts as store_alerts
from fwjr.store import evidence as store_evidence
from fwjr.store import ledger as store_ledger
from fwjr.store import reads as store_reads
from fwjr.store import replace, schema
from fwjr.store import sql as store_sql
from fwjr.store.connection import Store
from streams.checkpoint import CommitProtocol
from streams.sink import BatchWrite, ledger_insert
from tests.fixtures import store_helpers
from tests.fixtures.store import agg_row, empty, store  # noqa: F401

DAY = 86400
NOW = int(time.time())
TOPIC = "fwjr.raw"
COMMITTED, DEBRIS = f"{TOPIC}/0/0-99", f"{TOPIC}/0/100-199"


def _commit(db: Store, batch: str, last_offset: int) -> None:
    """The worker's own ledger write (step 3 of the commit protocol) for a batch of partition 0."""
    CommitProtocol(db, dedupe_days=14).mark(BatchWrite([], ledger_insert([(batch, TOPIC, 0, last_offset)]), [batch]))


# Rows of three ages: still at minute precision, rolled up to hours, rolled up to days.
AGES_DAYS = (0.25, 10, 100)


def _rows(seed: int, sites: tuple[str, ...] = ("T2_CH_CERN", "T1_US_FNAL")) -> list[dict]:
    rows = []
    for age in AGES_DAYS:
        start = bucket_start(NOW - int(age * DAY), "hour")
        for minute in range(0, 150, 13):
            for site in sites:
                code = (0, 8021, 50660)[minute % 3]
                rows.append(agg_row(start + 60 * minute, seed=seed + minute % 3, site=site, exit_code=code))
    return rows


def _expected_headline(rows: list[dict]) -> dict:
    sums = Counter()
    for row in rows:
        sums.update({c: row[c] for c in ("jobs", "failed", "cpu_hours_sum", "core_hours_sum", "wasted_core_hours_sum")})
    return {
        "jobs": sums["jobs"],
        "failed": sums["failed"],
        "cpu_efficiency": sums["cpu_hours_sum"] / sums["core_hours_sum"],
        "wasted_core_hours": sums["wasted_core_hours_sum"] / 1e6,
    }


def _headline(db: Store, start: int, end: int) -> dict:
    got = store_reads.headline(db, start, end)
    return {k: got[k] for k in ("jobs", "failed", "cpu_efficiency", "wasted_core_hours")}


def _sums(rows: list[dict], keys: tuple[str, ...], value: str) -> dict:
    out: Counter = Counter()
    for row in rows:
        out[tuple(row[k] for k in keys)] += row[value]
    return dict(out)


def _check_reads(db: Store, rows: list[dict]) -> None:
    start, end = 0, NOW + DAY
    assert _headline(db, start, end) == pytest.approx(_expected_headline(rows), rel=1e-12)
    per_day = Counter()
    for row in rows:
        per_day[bucket_start(row["bucket"], "day")] += row["jobs"]
    assert [(p["bucket"], p["jobs"]) for p in store_reads.headline_series(db, start, end, "day")] == sorted(per_day.items())
    total = store_reads.measure_by(db, start, end, (), "PeakValueRss", "avg")[0]
    rss = sum(r["PeakValueRss_sum"] for r in rows) / sum(r["PeakValueRss_count"] for r in rows) / 1e6
    assert total["value"] == pytest.approx(rss, rel=1e-12) and total["jobs"] == sum(r["jobs"] for r in rows)
    assert store_reads.totals(db, start, end)["jobs"] == sum(r["jobs"] for r in rows)
    sites = store_reads.top(db, start, end, "site", "failed", 10)
    assert {(t["site"],): t["value"] for t in sites} == _sums(rows, ("site",), "failed")
    by_site_code = store_reads.measure_by(db, start, end, ("site", "exit_code"), "jobs")
    assert {(g["site"], g["exit_code"]): g["value"] for g in by_site_code} == _sums(rows, ("site", "exit_code"), "jobs")
    cern = [r for r in rows if r["site"] == "T2_CH_CERN"]
    ranked, _ = store_reads.ranking_page(db, start, end, "exit_code", "failed", filters={"site": "T2_CH_CERN"})
    assert {(r["exit_code"],): r["value"] for r in ranked} == _sums(cern, ("exit_code",), "failed")
    by_workflow = store_reads.measure_by(db, start, end, ("workflow", "exit_code"), "failed")
    assert {(g["workflow"], g["exit_code"]): g["value"] for g in by_workflow} == _sums(rows, ("workflow", "exit_code"), "failed")


def test_reads_stay_exact_through_rollups_and_crash_cleanup(empty: Store) -> None:
    # The debris has its own scope: rolled up together with committed rows, it would be the known
    # limit of docs/store.md ("Exactly-once ledger"), not what this test is about.
    kept, debris = _rows(1), _rows(7, ("T3_US_Debris",))
    store_helpers.insert_aggregates(empty, kept, batch=COMMITTED)
    store_helpers.insert_aggregates(empty, debris, batch=DEBRIS)
    _commit(empty, COMMITTED, 99)
    _check_reads(empty, kept + debris)

    store_helpers.optimize(empty, "agg")
    assert store_helpers.row_count(empty, "agg") < len(kept + debris)
    _check_reads(empty, kept + debris)

    assert store_ledger.delete_uncommitted(empty, TOPIC, [0]) == [DEBRIS]
    _check_reads(empty, kept)
    store_helpers.optimize(empty, "agg")
    _check_reads(empty, kept)


def test_a_replayed_range_replaces_what_the_reads_sum(empty: Store) -> None:
    old = _rows(1)
    store_helpers.insert_aggregates(empty, old)
    store_helpers.optimize(empty, "agg")
    start = bucket_start(NOW - 100 * DAY, "day")
    end = start + DAY
    replayed = [agg_row(start + 3600 * h, seed=11, site="T3_US_NEW") for h in (0, 5)]
    columns = {c: [r[c] for r in replayed] for c in ("bucket",) + schema.AGG_COLUMNS[1:-1]}
    no_errors = pa.table({c: pa.array([], pa.int64() if c in ("bucket", "exit_code", "count") else pa.string()) for c in ("bucket",) + ERROR_KEYS + ("count",)})
    replace.replace_range(empty, start, end, pa.table(columns), no_errors, "replay-test")
    outside = [r for r in old if not start <= r["bucket"] < end]
    _check_reads(empty, outside + replayed)


# ---------------------------------------------------------------- the projections by site and by exit code x workflow (sql/0018)


def _varied_rows(seed: int) -> list[dict]:
    """Rows of the three ages at whole and odd minutes, several sites, exit codes and workflows."""
    rows = []
    for age in AGES_DAYS:
        start = bucket_start(NOW - int(age * DAY), "hour")
        for minute in range(0, 150, 7):
            for n, site in enumerate(("T2_CH_CERN", "T1_US_FNAL", "T2_DE_DESY")):
                code = (0, 8021, 50660, 8028)[(minute + n) % 4]
                workflow = f"wf-{(minute // 7 + n) % 5}"
                rows.append(agg_row(start + 60 * minute, seed=seed + (minute + n) % 5, site=site, exit_code=code, workflow=workflow))
    return rows


def _projection_reads(db: Store) -> dict[str, object]:
    """Every read that sql/0018's projections can answer, at ranges with uneven edges and every precision."""
    out: dict[str, object] = {}
    for label, (start, end) in {
        "all": (0, NOW + DAY),
        "30d": (NOW - 30 * DAY + 1234, NOW - 17),
        "12d": (NOW - 12 * DAY - 77, NOW - 9 * DAY + 3599),
        "6h": (NOW - 6 * 3600 - 61, NOW),
    }.items():
        for precision in ("minute", "hour", "day"):
            out[f"{label} site series {precision}"] = store_reads.measure_by(db, start, end, ("site",), "PeakValueRss", "avg", precision)
            out[f"{label} site jobs {precision}"] = store_reads.series(db, start, end, precision, split="site")
            out[f"{label} failed by code {precision}"] = store_reads.measure_by(db, start, end, ("exit_code",), "failed", precision=precision)
        out[f"{label} rank site"] = store_reads.ranking_page(db, start, end, "site", "PeakValueRss", "avg", rank_by="jobs")
        out[f"{label} rank code"] = store_reads.ranking_page(db, start, end, "exit_code", "failed")
        out[f"{label} code x workflow"] = store_reads.measure_by(db, start, end, ("exit_code", "workflow"), "failed", only={"exit_code": [8021, 50660]})
        out[f"{label} failure rate by workflow"] = store_reads.measure_by(db, start, end, ("workflow",), "failure_rate", filters={"exit_code": {"regex": "^80"}})
        out[f"{label} wasted by code"] = store_reads.ranking_page(db, start, end, "exit_code", "wasted_core_hours", "sum", filters={"workflow": "wf-1"})
        out[f"{label} top sites"] = store_reads.top(db, start, end, "site", "failed", 5)
        out[f"{label} top codes"] = store_reads.top(db, start, end, "exit_code", "failed", 5)
        out[f"{label} top workflows"] = store_reads.top(db, start, end, "workflow", "failure_rate", 5)
        out[f"{label} site totals"] = store_reads.totals(db, start, end, {"site": "T1_US_FNAL"})
        out[f"{label} suggestions"] = store_reads.distinct_values(db, "site", start, end)
        out[f"{label} headline"] = store_reads.headline(db, start, end)
        out[f"{label} cpu efficiency by site"] = store_reads.measure_by(db, start, end, ("site",), "cpu_efficiency", precision="hour")
    return out


def _from_table_only(db: Store, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    with monkeypatch.context() as patch:
        for reader in (store_reads, store_alerts, store_evidence):  # each binds the hint at import
            patch.setattr(reader, "projection_setting", lambda *args, **kwargs: " SETTINGS optimize_use_projections = 0")
        return _projection_reads(db)


def _active_parts(db: Store) -> list[str]:
    return sorted(row[0] for row in db.rows("SELECT name FROM system.parts WHERE database = currentDatabase() AND table = 'agg' AND active"))


def _projection_rows(db: Store) -> dict[str, int]:
    sql = "SELECT name, sum(rows) FROM system.projection_parts WHERE database = currentDatabase() AND table = 'agg' AND active GROUP BY name"
    return dict(db.rows(sql))


def test_reads_through_the_projections_equal_the_tables_reads(empty: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each read that names a projection returns exactly what the same read of the table returns:
    before and after the TTL rollups, after a crashed flush's rows are deleted, after a replay."""
    kept, debris = _varied_rows(1), _varied_rows(7)
    store_helpers.insert_aggregates(empty, kept, batch=COMMITTED)
    store_helpers.insert_aggregates(empty, debris, batch=DEBRIS)
    _commit(empty, COMMITTED, 99)
    held = _projection_rows(empty)
    assert held.get("p_site", 0) > 0 and held.get("p_code_workflow", 0) > 0

    def same() -> None:
        # Background TTL merges may roll rows up between the two reads: compare reads of one set of parts.
        for _ in range(20):
            parts = _active_parts(empty)
            got, table = _projection_reads(empty), _from_table_only(empty, monkeypatch)
            if _active_parts(empty) == parts:
                break
        assert got == table
        assert any(got.values())

    same()
    store_helpers.optimize(empty, "agg")  # TTL rollups: minute rows of the older ages become hour and day rows
    same()
    assert store_ledger.delete_uncommitted(empty, TOPIC, [0]) == [DEBRIS]
    same()
    start = bucket_start(NOW - 100 * DAY, "day")
    replayed = [agg_row(start + 3600 * h, seed=11, site="T3_US_NEW", exit_code=8021, workflow="wf-9") for h in (0, 5)]
    columns = {c: [r[c] for r in replayed] for c in ("bucket",) + schema.AGG_COLUMNS[1:-1]}
    no_errors = pa.table({c: pa.array([], pa.int64() if c in ("bucket", "exit_code", "count") else pa.string()) for c in ("bucket",) + ERROR_KEYS + ("count",)})
    replace.replace_range(empty, start, start + DAY, pa.table(columns), no_errors, "replay-test")
    same()
    store_helpers.optimize(empty, "agg")
    same()


def test_each_read_names_the_projection_that_holds_what_it_uses() -> None:
    assert store_sql.projection_setting((), None) == " SETTINGS preferred_optimize_projection_name = 'p_totals'"
    assert store_sql.projection_setting(["site"], {"site": "x"}, "sum(cpu_hours_sum) / sum(core_hours_sum)").endswith("'p_site'")
    assert store_sql.projection_setting(["exit_code"], {"workflow": "w"}, "sum(failed) sum(jobs)").endswith("'p_code_workflow'")
    assert store_sql.projection_setting(["exit_code"], None, "sum(PeakValueRss_sum)").endswith("optimize_use_projections = 0")
    assert store_sql.projection_setting(["site", "exit_code"], None, "sum(jobs)").endswith("optimize_use_projections = 0")
    assert store_sql.projection_setting(SCOPE_KEYS).endswith("optimize_use_projections = 0")


def test_unsorted_cells_sorted_by_value_are_the_sorted_cells(empty: Store) -> None:
    """The explorer's two-key cells are read unsorted and sorted in Python (`store_reads.by_value`):
    the same rows in the same order as the engine's ORDER BY, ties, missing averages and an
    overflowing limit included."""
    no_rss = {**agg_row(NOW - 3600, seed=3, site="T3_NO_RSS", exit_code=8021, workflow="wf-0"), "PeakValueRss_sum": 0, "PeakValueRss_count": 0}
    rows = _varied_rows(1) + [no_rss]
    store_helpers.insert_aggregates(empty, rows)
    start, end = 0, NOW + DAY
    for keys, measure, stat in (
        (("exit_code", "workflow"), "failed", "sum"),
        (("workflow", "site"), "jobs", "sum"),
        (("site", "exit_code"), "PeakValueRss", "avg"),
        (("exit_code", "site"), "failure_rate", "sum"),
    ):
        for limit in (100_000, 5):
            ordered = store_reads.measure_by(empty, start, end, keys, measure, stat, limit=limit)
            unsorted = store_reads.measure_by(empty, start, end, keys, measure, stat, limit=limit, ordered=False)
            assert store_reads.by_value(unsorted, keys) == ordered, (keys, measure, limit)
            assert measure != "PeakValueRss" or any(r["value"] is None for r in ordered) or limit == 5
            assert len(ordered) == min(limit, len(store_reads.measure_by(empty, start, end, keys, measure, stat, limit=100_000)))
