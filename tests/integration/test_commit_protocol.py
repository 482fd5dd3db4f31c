"""The commit protocol's store steps and recovery on a real embedded store, batches from the real pipeline.

The crash points with a real broker are in tests/integration/test_crash_points.py; these check what the
recovery judges by (offsets, not ledger membership), which batches it leaves alone, what it
returns, and the writer's undo before a retry.
"""

from __future__ import annotations

import time

import orjson
import pytest

from fwjr.store import error_reads, job_reads, reads
from fwjr.store import ledger as store_ledger
from fwjr.store.connection import Store
from fwjr.synth.feed import generate_documents
from streams.checkpoint import CommitProtocol
from streams.pipeline import Flush, Message, Pipeline
from streams.sink import store_tables
from tests.fixtures import store_helpers
from tests.fixtures.store import agg_row, empty, store  # noqa: F401

TOPIC = "fwjr.raw"
NOW = int(time.time())


def _messages(count: int, seed: int, partition: int, first: int) -> list[Message]:
    docs = generate_documents(count, seed, start_ts=NOW - 3600, minutes=30, malformed_share=0.1, duplicate_share=0)
    return [
        Message(TOPIC, partition, first + n, doc if isinstance(doc, bytes) else orjson.dumps(doc))
        for n, doc in enumerate(docs)
    ]


def _identities(flush: Flush) -> set[str]:
    return {job.identity for part in flush.partitions for job, _ in part.jobs}


def _error_count(*flushes: Flush) -> int:
    return sum(sum(part.aggregator.errors.values()) for flush in flushes for part in flush.partitions)


def _stored_jobs(db: Store) -> int:
    return reads.totals(db, 0, NOW + 86400)["jobs"]


def test_recovery_deletes_the_uncommitted_batches_of_its_partitions_only(empty: Store) -> None:
    protocol = CommitProtocol(empty, dedupe_days=1)
    pipeline = Pipeline()
    kept_flush = pipeline.process(_messages(30, 1, 0, 0))
    kept = store_tables(kept_flush)
    protocol.write(kept)
    debris_flush = pipeline.process(_messages(30, 2, 0, 30))
    debris = store_tables(debris_flush)
    for insert in debris.rows:  # a crash before the ledger mark
        protocol.insert(insert)
    other_flush = pipeline.process(_messages(30, 3, 1, 0))
    other = store_tables(other_flush)
    for insert in other.rows:  # partition 1: not this worker's to clean up
        protocol.insert(insert)
    for batch in ("replay:2024-01-01..2024-01-02", ""):  # replay and offline rows are never debris
        store_helpers.insert_aggregates(empty, [agg_row(NOW - 7200)], batch=batch)
    assert store_ledger.uncommitted_batches(empty, TOPIC, [0, 1]) == sorted(debris.batches + other.batches)
    assert reads.freshness(empty)["last_write"] is not None

    recovery = protocol.recover(TOPIC, [0])

    assert recovery.deleted == tuple(debris.batches) == (f"{TOPIC}/0/30-59",)
    assert recovery.committed == {(TOPIC, 0): 29}
    assert recovery.identities == frozenset(_identities(kept_flush) | _identities(other_flush))
    assert "deleted 1 uncommitted batches" in recovery.describe()
    assert _stored_jobs(empty) == len(recovery.identities) + 2 * 3
    errors = error_reads.error_matrix(empty, 0, NOW + 86400, "site", "exit_code")
    assert sum(e["count"] for e in errors) == _error_count(kept_flush, other_flush) > 0
    assert reads.dlq_counts(empty, 0, NOW + 86400) == [
        {"reason": reason, "count": count}
        for reason, count in _reasons(kept_flush, other_flush).items()
    ]
    assert all(job_reads.job(empty, job.identity) is None for part in debris_flush.partitions for job, _ in part.jobs)
    assert protocol.recover(TOPIC, [0]).deleted == ()


def _reasons(*flushes: Flush) -> dict[str, int]:
    counts: dict[str, int] = {}
    for flush in flushes:
        for part in flush.partitions:
            for letter in part.dead:
                label = letter.rejection.label()
                counts[label] = counts.get(label, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def test_a_later_ledger_mark_moves_the_resume_offset_and_commits_the_batch(empty: Store) -> None:
    protocol = CommitProtocol(empty, dedupe_days=1)
    pipeline = Pipeline()
    first = store_tables(pipeline.process(_messages(20, 4, 0, 0)))
    protocol.write(first)
    second = store_tables(pipeline.process(_messages(20, 5, 0, 100)))
    protocol.write(second)
    assert store_ledger.committed_offsets(empty, TOPIC) == {0: 119}
    assert store_ledger.uncommitted_batches(empty, TOPIC, [0]) == []


def test_undo_removes_a_failed_attempt_so_a_retry_counts_the_batch_once(empty: Store) -> None:
    protocol = CommitProtocol(empty, dedupe_days=1)
    flush = Pipeline().process(_messages(40, 6, 0, 0))
    write = store_tables(flush)
    jobs = sum(len(part.jobs) for part in flush.partitions)
    empty.command("RENAME TABLE jobs TO jobs_away")  # the store refuses the batch's jobs, after agg and errors
    try:
        with pytest.raises(Exception, match="jobs"):
            protocol.write(write)
    finally:
        empty.command("RENAME TABLE jobs_away TO jobs")
    assert _stored_jobs(empty) == jobs  # the first insert went in
    protocol.undo(write)
    protocol.write(write)
    assert _stored_jobs(empty) == jobs
    assert store_ledger.committed_offsets(empty, TOPIC) == {0: 39}
