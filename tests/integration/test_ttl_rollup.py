"""The TTL rollup ladder on the engine we run: minute rows older than each step's age are
rolled up to hour, day and month buckets, with every sum and count kept exactly.

Timestamps are placed relative to now at ages well inside each step (never near a boundary),
and OPTIMIZE ... FINAL forces the merges that would otherwise run every few hours.
"""

from __future__ import annotations

import time
from collections import Counter

from fwjr.aggregate import VALUE_COLUMNS
from fwjr.bucket import bucket_start
from fwjr.model import SCOPE_KEYS
from fwjr.store import ledger, reads, schema
from fwjr.store import sql as store_sql
from fwjr.store.connection import Store
from tests.fixtures import store_helpers
from tests.fixtures.store import agg_row, empty, store  # noqa: F401

DAY = 86400
NOW = int(time.time())
# age in days -> the precision rows of that age must be stored at after the rollups
AGES = {0.5: "minute", 10: "hour", 100: "day", 500: "month"}


def _minutes_around(age_days: float) -> list[int]:
    """Minute buckets spread over three hours, starting at a whole hour `age_days` ago."""
    start = bucket_start(NOW - int(age_days * DAY), "hour")
    return [start + 60 * m for m in range(0, 180, 7)]


def _per_scope(rows: list[dict]) -> dict[tuple, Counter]:
    totals: dict[tuple, Counter] = {}
    for row in rows:
        key = tuple(row[k] for k in SCOPE_KEYS)
        totals.setdefault(key, Counter()).update({c: row[c] for c in VALUE_COLUMNS})
    return totals


def test_aggregates_roll_up_along_the_ladder(empty: Store) -> None:
    rows = [
        agg_row(bucket, seed=1 + i % 5, site=site)
        for age in AGES
        for i, bucket in enumerate(_minutes_around(age))
        for site in ("T2_CH_CERN", "T1_US_FNAL")
    ]
    store_helpers.insert_aggregates(empty, rows[: len(rows) // 2], batch="fwjr.raw/0/0-9")
    store_helpers.insert_aggregates(empty, rows[len(rows) // 2 :], batch="fwjr.raw/0/10-19")
    store_helpers.optimize(empty, "agg")

    everything = (0, NOW + DAY)
    stored = reads.aggregates(empty, *everything, "minute")
    assert _per_scope(stored) == _per_scope(rows)
    assert len(stored) < len(rows)
    for age, precision in AGES.items():
        expected = {bucket_start(b, precision) for b in _minutes_around(age)}
        start = bucket_start(NOW - int(age * DAY), "hour")
        lo, hi = store_sql.align(start, start + 3 * 3600, precision)
        found = {r["bucket"] for r in stored if lo <= r["bucket"] < hi}
        assert found == expected, (age, precision)
    assert ledger.uncommitted_batches(empty, "fwjr.raw", [0]) == ["fwjr.raw/0/0-9", "fwjr.raw/0/10-19"]


def test_monthly_view_is_the_same_before_and_after_rollup(empty: Store) -> None:
    rows = [agg_row(b, seed=3, host=f"h{b % 2}") for age in AGES for b in _minutes_around(age)]
    store_helpers.insert_aggregates(empty, rows)
    before = reads.aggregates(empty, 0, NOW + DAY, "month")
    store_helpers.optimize(empty, "agg")
    store_helpers.optimize(empty, "agg")
    assert reads.aggregates(empty, 0, NOW + DAY, "month") == before


def test_error_and_dlq_counts_roll_up_too(empty: Store) -> None:
    errors, dead = [], []
    for age in AGES:
        for b in _minutes_around(age):
            errors.append({"bucket": b, "workflow": "wf", "task": "t", "step": "cmsRun1", "site": "A", "exit_code": 8021,
                           "retry_count": 1, "signature": "abc123", "count": 2})
            dead.append({"bucket": b, "reason": "bad json", "count": 1})
    store_helpers.insert_errors(empty, errors)
    store_helpers.insert_dlq_counts(empty, dead)
    store_helpers.optimize(empty, "errors")
    store_helpers.optimize(empty, "dlq_counts")
    for age, precision in AGES.items():
        start = bucket_start(NOW - int(age * DAY), "hour")
        first, stop = store_sql.align(start, start + 3 * 3600, precision)
        expected_buckets = sorted({bucket_start(b, precision) for b in _minutes_around(age)})
        got = store_helpers.error_series(empty, first, stop, "minute")
        assert [g["bucket"] for g in got] == expected_buckets, (age, precision)
        assert sum(g["count"] for g in got) == 2 * len(_minutes_around(age))
        assert sum(d["count"] for d in reads.dlq_counts(empty, first, stop)) == len(_minutes_around(age))


def test_rows_already_at_a_rules_precision_are_kept_as_written(empty: Store) -> None:
    """A TTL rule regroups only rows finer than its precision (sql/0014): an hour row older than
    the minute age, or a day row older than the hour age, is copied, not regrouped."""
    hour = bucket_start(NOW - 10 * DAY, "hour") + 3600
    day = bucket_start(NOW - 100 * DAY, "day")
    written = [agg_row(hour, seed=2), agg_row(hour, seed=3), agg_row(day, seed=4), agg_row(day, seed=5)]
    store_helpers.insert_aggregates(empty, written, batch="backfill")
    store_helpers.optimize(empty, "agg")
    stored = store_helpers.table_rows(empty, "agg")
    assert sorted((row[0], row[schema.AGG_COLUMNS.index("jobs")]) for row in stored) == [(day, 12), (day, 15), (hour, 6), (hour, 9)]
    assert [(r["bucket"], r["jobs"]) for r in reads.aggregates(empty, 0, NOW + DAY, "day")] == [(day, 27), (bucket_start(hour, "day"), 15)]
