"""Phase 2: merged jobs -> aggregate rows keyed by (bucket, scope), and error counts.

The stream worker, the Spark replay and `fwjr aggregate` all fold jobs through this
module. Metric sums are kept as integers in micro-units, so adding the same jobs in
any order, in any number of partial aggregates, gives bit-identical totals: the
determinism contract (docs/architecture.md) holds by construction, not by luck of float order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from fwjr.bucket import bucket_start, check_precision, iso
from fwjr.metrics import ALL_METRICS
from fwjr.model import COUNT_COLUMNS, ERROR_KEYS, METRIC_COLUMNS, SCOPE_KEYS, Job

MICRO: Final = 1_000_000
VALUE_COLUMNS: tuple[str, ...] = COUNT_COLUMNS + METRIC_COLUMNS
ROW_COLUMNS: tuple[str, ...] = ("bucket",) + SCOPE_KEYS + VALUE_COLUMNS
ERROR_ROW_COLUMNS: tuple[str, ...] = ("bucket",) + ERROR_KEYS + ("count",)

# Position of a metric's `_sum` in the value vector; its `_count` follows it.
_SUM_INDEX: Final[dict[str, int]] = {
    m.name: len(COUNT_COLUMNS) + 2 * i for i, m in enumerate(ALL_METRICS)
}
_WIDTH: Final = len(VALUE_COLUMNS)

AggKey = tuple  # (bucket, *scope)
ErrKey = tuple  # (bucket, *ERROR_KEYS)


class Aggregator:
    """Folds jobs into aggregate and error rows at one precision, counting each identity once.

    `seen` holds the identities already counted; pass a shared or pre-loaded set to
    dedupe across restarts or partial aggregators.
    """

    def __init__(self, precision: str, seen: set[str] | None = None) -> None:
        self.precision = check_precision(precision)
        self.rows: dict[AggKey, list[int]] = {}
        self.errors: dict[ErrKey, int] = {}
        self.seen: set[str] = set() if seen is None else seen
        self.duplicates = 0
        self.jobs = 0

    def add(self, job: Job) -> bool:
        """Count the job; False (and nothing counted) when its identity was already seen."""
        if job.identity in self.seen:
            self.duplicates += 1
            return False
        self.seen.add(job.identity)
        self.add_unchecked(job)
        return True

    def add_unchecked(self, job: Job) -> None:
        """Count the job without the identity check, for callers that dedupe upstream."""
        self.jobs += 1
        bucket = bucket_start(job.ts, self.precision)
        key = (bucket,) + job.scope()
        vector = self.rows.get(key)
        if vector is None:
            vector = [0] * _WIDTH
            self.rows[key] = vector
        vector[0] += 1
        if job.failed:
            vector[1] += 1
        if job.efficiency_outlier:
            vector[2] += 1
        for name, value in job.metrics.items():
            index = _SUM_INDEX[name]
            vector[index] += round(value * MICRO)  # integer micro-units: exact, order-free sums
            vector[index + 1] += 1
        if job.errors:
            seen_here = set()
            for error in job.errors:
                error_key = (
                    bucket, job.workflow, job.task, error.step, job.site, error.exit_code, job.retry_count, error.signature
                )
                if error_key not in seen_here:
                    seen_here.add(error_key)
                    self.errors[error_key] = self.errors.get(error_key, 0) + 1

    def absorb(self, other: "Aggregator") -> None:
        """Add another aggregator's rows into this one (same precision, disjoint identities)."""
        for key, vector in other.rows.items():
            mine = self.rows.get(key)
            if mine is None:
                self.rows[key] = list(vector)
            else:
                for i, value in enumerate(vector):
                    mine[i] += value
        for key, count in other.errors.items():
            self.errors[key] = self.errors.get(key, 0) + count
        self.jobs += other.jobs

    def drain(self) -> tuple[dict[AggKey, list[int]], dict[ErrKey, int]]:
        """Hand over the rows gathered so far and start empty (identities are kept)."""
        rows, errors = self.rows, self.errors
        self.rows, self.errors = {}, {}
        return rows, errors


def aggregate_jobs(jobs: Iterable[Job], precision: str) -> Aggregator:
    """All jobs folded at one precision, duplicates counted once."""
    aggregator = Aggregator(precision)
    for job in jobs:
        aggregator.add(job)
    return aggregator


def row_dicts(rows: dict[AggKey, list[int]]) -> list[dict]:
    """Aggregate rows as dicts in the shared row contract, sorted by (bucket, scope)."""
    return [dict(zip(ROW_COLUMNS, key + tuple(vector))) for key, vector in sorted(rows.items())]


def error_dicts(errors: dict[ErrKey, int]) -> list[dict]:
    """Error rows as dicts, sorted by key."""
    return [dict(zip(ERROR_ROW_COLUMNS, key + (count,))) for key, count in sorted(errors.items())]


def present_error(row: dict, precision: str) -> dict:
    """An error row as printed by `fwjr aggregate --rows errors` and `fwjr query errors` alike."""
    out: dict = {"bucket": iso(row["bucket"]), "precision": precision}
    for key in ERROR_KEYS:
        out[key] = row[key]
    out["count"] = row["count"]
    return out


def regroup(rows: Iterable[dict], precision: str) -> list[dict]:
    """Re-bucket aggregate rows to a coarser precision by summing: exact, since all values are sums."""
    check_precision(precision)
    merged: dict[tuple, list[int]] = {}
    for row in rows:
        key = (bucket_start(row["bucket"], precision),) + tuple(row[k] for k in SCOPE_KEYS)
        vector = merged.get(key)
        if vector is None:
            merged[key] = [row[c] for c in VALUE_COLUMNS]
        else:
            for i, column in enumerate(VALUE_COLUMNS):
                vector[i] += row[column]
    return row_dicts(merged)


def present(row: dict, precision: str) -> dict:
    """A row as printed by `fwjr aggregate` and `fwjr query aggregates` alike.

    Buckets become ISO text, micro-unit sums become numbers with six decimals, and
    metrics with no value in the row are left out, so two sources can be diffed line by line.
    """
    out: dict = {"bucket": iso(row["bucket"]), "precision": precision}
    for key in SCOPE_KEYS:
        out[key] = row[key]
    for column in COUNT_COLUMNS:
        out[column] = row[column]
    for metric in ALL_METRICS:
        count = row[f"{metric.name}_count"]
        if count:
            out[f"{metric.name}_sum"] = round(row[f"{metric.name}_sum"] / MICRO, 6)
            out[f"{metric.name}_count"] = count
    return out
