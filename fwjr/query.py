"""The one module that reads and writes the tables (besides the DDL in sql/).

Rollups and merges run only when parts merge, so every read re-aggregates with
`sum ... GROUP BY` and never assumes a TTL rule has run. User input reaches SQL only as
bound `{name:Type}` parameters; identifiers (columns, precisions, tables) come from fixed
whitelists built from fwjr.model, never from the caller's text.

Filters (every function taking `filters`): a mapping from a key to one of
  "T2_CH_CERN" / 8021           exact value
  ["T2_CH_CERN", "T1_US_FNAL"]  any of these values
  {"regex": "^T2_.*"}           re2 regular expression (ClickHouse `match`), on the text form
  {"prefix": "T2_"}             starts with
Keys: fwjr.model.SCOPE_KEYS for aggregates and jobs, fwjr.model.ERROR_KEYS for error counts.
Times are epoch seconds (UTC); ranges are half-open [start, end).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa

from fwjr.aggregate import ERROR_ROW_COLUMNS, MICRO, ROW_COLUMNS, VALUE_COLUMNS
from fwjr.bucket import STORED_PRECISIONS, bucket_start, check_precision, next_bucket
from fwjr.metrics import ALL_METRICS, METRIC_NAMES
from fwjr.model import COUNT_COLUMNS, ERROR_KEYS, SCOPE_KEYS
from fwjr.store import Store

# The stored tables' columns: the core's row contracts (fwjr.aggregate) and the batch that wrote them.
AGG_COLUMNS: tuple[str, ...] = ROW_COLUMNS + ("batch",)
ERROR_COLUMNS: tuple[str, ...] = ERROR_ROW_COLUMNS + ("batch",)
DLQ_COLUMNS: tuple[str, ...] = ("bucket", "reason", "count", "batch")
EXAMPLE_COLUMNS: tuple[str, ...] = ("exit_code", "signature", "step", "type", "example", "seen")
JOB_COLUMNS: tuple[str, ...] = (
    "identity", "ts", "workflow", "task", "site", "host", "jobtype", "jobstate", "exit_code", "exit_step",
    "acquisition_era", "campaign", "wn_name", "fwjr_id", "agent_ver", "retry_count", "failed", "wall_time", "cpu_efficiency",
    "core_hours", "error_type", "error_details", "errors", "log_archive", "batch", "src_partition", "src_offset",
)
BATCH_TABLES: tuple[str, ...] = ("agg", "errors", "jobs", "dlq_counts")
BUCKETED_TABLES: tuple[str, ...] = ("agg", "errors", "dlq_counts")
TABLES: tuple[str, ...] = BATCH_TABLES + ("error_examples", "ingest_batches", "replace_journal", "schema_migrations")

# How each precision re-buckets the stored `bucket` (DateTime('UTC')); weeks start on Monday.
_BUCKET_SQL: dict[str, str] = {
    "minute": "toStartOfMinute(bucket)",
    "hour": "toStartOfHour(bucket)",
    "day": "toStartOfDay(bucket)",
    "week": "toDateTime(toMonday(bucket), 'UTC')",
    "month": "toDateTime(toStartOfMonth(bucket), 'UTC')",
}
# Precisions the TTL ladder stores, finest first, and the settings field holding each one's age.
LADDER_STEPS: tuple[tuple[str, str], ...] = (("minute", "minute_days"), ("hour", "hour_days"), ("day", "day_days"))
# Keys stored as integers: their filters bind Int32 values, and patterns match their text form.
_NUMERIC_KEYS: frozenset[str] = frozenset({"exit_code", "retry_count"})
_RANGE = "bucket >= toDateTime({start:Int64}, 'UTC') AND bucket < toDateTime({end:Int64}, 'UTC')"
_DAY = 86400


# ---------------------------------------------------------------- precision ladder


def ladder(settings: Any) -> list[tuple[str, int | None]]:
    """The stored precisions (fwjr.bucket.STORED_PRECISIONS) with the age (seconds) up to which
    each is kept, from the settings; the coarsest is kept for good."""
    steps: list[tuple[str, int | None]] = [(p, getattr(settings, field) * _DAY) for p, field in LADDER_STEPS]
    return steps + [(STORED_PRECISIONS[-1], None)]


def finest_precision(start: int, end: int, now: int, ladder: Sequence[tuple[str, int | None]]) -> str:
    """The finest precision that the whole range [start, end) still has, whatever merges ran.

    The oldest point decides: a bucket older than a step's age may already be rolled up.
    `ladder` is [(precision, max_age_seconds or None), ...], finest first (see `ladder`).
    """
    if end <= start:
        raise ValueError(f"empty time range: start {start} is not before end {end}")
    age = now - start
    for precision, max_age in ladder:
        if max_age is None or age <= max_age:
            return precision
    return ladder[-1][0]


def align(start: int, end: int, precision: str) -> tuple[int, int]:
    """The range widened to whole buckets of `precision`, so rolled-up rows are in or out entirely."""
    check_precision(precision)
    first = bucket_start(start, precision)
    last = bucket_start(end - 1, precision)
    return first, next_bucket(last, precision)


# ---------------------------------------------------------------- filters


def _where(filters: Mapping[str, Any] | None, allowed: Sequence[str], params: dict[str, Any], prefix: str = "f") -> str:
    """SQL conditions for `filters`, with each value added to `params` as a bound parameter."""
    clauses: list[str] = []
    for position, (key, wanted) in enumerate(sorted((filters or {}).items())):
        if key not in allowed:
            raise ValueError(f"unknown filter key {key!r}; expected one of {', '.join(allowed)}")
        name = f"{prefix}{position}"
        numeric = key in _NUMERIC_KEYS
        text_column = f"toString({key})" if numeric else key
        if isinstance(wanted, Mapping):
            clauses.append(_pattern_clause(key, text_column, wanted, name, params))
        elif isinstance(wanted, (list, tuple, set, frozenset)):
            values = sorted(wanted)
            params[name] = [_scalar(key, v) for v in values]
            clauses.append(f"{key} IN {{{name}:Array({'Int32' if numeric else 'String'})}}")
        else:
            params[name] = _scalar(key, wanted)
            clauses.append(f"{key} = {{{name}:{'Int32' if numeric else 'String'}}}")
    return "".join(f" AND {c}" for c in clauses)


def _pattern_clause(key: str, column: str, wanted: Mapping[str, Any], name: str, params: dict[str, Any]) -> str:
    if len(wanted) != 1 or next(iter(wanted)) not in ("regex", "prefix"):
        raise ValueError(f"filter {key}={dict(wanted)!r}: expected {{'regex': ...}} or {{'prefix': ...}}")
    kind, value = next(iter(wanted.items()))
    params[name] = str(value)
    if kind == "regex":
        return f"match({column}, {{{name}:String}})"
    return f"startsWith({column}, {{{name}:String}})"


def _scalar(key: str, value: Any) -> Any:
    if key in _NUMERIC_KEYS:
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ValueError(f"filter {key}={value!r}: expected a whole number") from None
    return str(value)


def _range_params(start: int, end: int) -> dict[str, Any]:
    if end <= start:
        raise ValueError(f"empty time range: start {start} is not before end {end}")
    return {"start": int(start), "end": int(end)}


# The aggregating projections of `agg`: name, the scope keys it keeps, the value columns it sums.
# p_totals (sql/0015) keeps no key; p_site and p_code_workflow (sql/0018) keep the stored bucket and
# one or two keys, so any range and re-bucketing of them is exact.
AGG_PROJECTIONS: tuple[tuple[str, frozenset[str], frozenset[str]], ...] = (
    ("p_totals", frozenset(), frozenset(VALUE_COLUMNS)),
    ("p_site", frozenset({"site"}), frozenset(VALUE_COLUMNS)),
    (
        "p_code_workflow",
        frozenset({"exit_code", "workflow"}),
        frozenset({"jobs", "failed", "eff_outliers", "wasted_core_hours_sum", "wasted_core_hours_count"}),
    ),
)
_SUMMED = re.compile(r"\bsum\((\w+)\)")


def _projections(keys: Iterable[str], filters: Mapping[str, Any] | None = None, reads: Iterable[str] | str = VALUE_COLUMNS) -> str:
    """The SETTINGS clause ending an `agg` read that groups by `keys`, filters on `filters` and sums
    `reads` (value columns, or SQL text whose `sum(column)` terms name them).

    The engine weighs every projection it is allowed to at each query, at a cost that grows with the
    projection's aggregates (p_totals: ~6-17 ms of CPU, measured), so a read is pointed at the one
    projection that holds all it uses (`preferred_optimize_projection_name`) and told not to weigh
    any when none does. Answers are the same either way; a part without the projection is read from
    the table.
    """
    used = set(keys) | set(filters or {})
    needed = set(_SUMMED.findall(reads)) if isinstance(reads, str) else set(reads)
    for name, held_keys, held_values in AGG_PROJECTIONS:
        if used <= held_keys and needed <= held_values:
            return f" SETTINGS preferred_optimize_projection_name = '{name}'"
    return " SETTINGS optimize_use_projections = 0"


# ---------------------------------------------------------------- aggregate rows (the contract)


def aggregates(
    store: Store, start: int, end: int, precision: str, filters: Mapping[str, Any] | None = None
) -> list[dict]:
    """Aggregate rows re-summed at `precision`, in the shared row contract, sorted by (bucket, scope).

    The range is widened to whole buckets (see `align`). A precision finer than what the
    range still has (see `finest_precision`) returns rolled-up rows at their stored bucket.
    """
    names, rows = aggregate_rows(store, start, end, precision, filters)
    return [dict(zip(names, row)) for row in rows]


def aggregate_rows(
    store: Store, start: int, end: int, precision: str, filters: Mapping[str, Any] | None = None
) -> tuple[tuple[str, ...], list[tuple]]:
    """`aggregates` as (column names, row tuples): the bulk export's form, no dict per row."""
    first, stop = align(start, end, precision)
    params = _range_params(first, stop)
    where = _where(filters, SCOPE_KEYS, params)
    scope = ", ".join(SCOPE_KEYS)
    sums = ", ".join(f"sum({c})" for c in VALUE_COLUMNS)
    sql = (
        f"SELECT toUnixTimestamp({_BUCKET_SQL[precision]}) AS b, {scope}, {sums} FROM agg "
        f"WHERE {_RANGE}{where} GROUP BY b, {scope} ORDER BY b, {scope}{_projections(SCOPE_KEYS)}"
    )
    return ROW_COLUMNS, store.rows(sql, params)


def insert_aggregates(store: Store, rows: Iterable[Mapping[str, Any]], batch: str = "") -> int:
    """Insert aggregate-row dicts (any precision; minute at ingest), tagged with `batch`."""
    return store.insert_dicts("agg", (_with_batch(r, batch) for r in rows), AGG_COLUMNS)


def insert_aggregate_columns(store: Store, columns: Mapping[str, Sequence[Any]]) -> int:
    """Insert aggregate rows given column-wise ({column: values}, all AGG_COLUMNS): the fast path."""
    return store.insert_columns("agg", AGG_COLUMNS, [columns[c] for c in AGG_COLUMNS])


def insert_errors(store: Store, rows: Iterable[Mapping[str, Any]], batch: str = "") -> int:
    """Insert error-count dicts (bucket, ERROR_KEYS, count), tagged with `batch`."""
    return store.insert_dicts("errors", (_with_batch(r, batch) for r in rows), ERROR_COLUMNS)


def insert_jobs(store: Store, rows: Iterable[Mapping[str, Any]], batch: str = "") -> int:
    """Insert job dicts (JOB_COLUMNS; src_partition/src_offset default to -1 outside the stream)."""
    defaults = {"src_partition": -1, "src_offset": -1}
    return store.insert_dicts("jobs", ({**defaults, **_with_batch(r, batch)} for r in rows), JOB_COLUMNS)


def insert_dlq_counts(store: Store, rows: Iterable[Mapping[str, Any]], batch: str = "") -> int:
    """Insert dead-letter counts (bucket, reason, count), tagged with `batch`."""
    return store.insert_dicts("dlq_counts", (_with_batch(r, batch) for r in rows), DLQ_COLUMNS)


def _with_batch(row: Mapping[str, Any], batch: str) -> Mapping[str, Any]:
    return row if "batch" in row else {**row, "batch": batch}


# ---------------------------------------------------------------- board views


def _metric_sql(measure: str) -> str:
    """The SQL of one orderable measure: a count column, a metric's total, or a ratio."""
    if measure in COUNT_COLUMNS:
        return f"sum({measure})"
    if measure in METRIC_NAMES:
        return f"sum({measure}_sum) / {MICRO}"
    if measure == "failure_rate":
        return "sum(failed) / greatest(sum(jobs), 1)"
    if measure == "cpu_efficiency":
        return "sum(cpu_hours_sum) / greatest(sum(core_hours_sum), 1)"
    choices = ", ".join(COUNT_COLUMNS + ("failure_rate", "cpu_efficiency") + METRIC_NAMES)
    raise ValueError(f"unknown measure {measure!r}; expected one of {choices}")


def _summary(values: Mapping[str, int]) -> dict[str, Any]:
    """Counts, ratios of sums, and per metric its total (units), job count and job-weighted mean."""
    jobs = values["jobs"]
    out: dict[str, Any] = {c: values[c] for c in COUNT_COLUMNS}
    out["failure_rate"] = values["failed"] / jobs if jobs else None
    core = values["core_hours_sum"]
    out["cpu_efficiency"] = values["cpu_hours_sum"] / core if core else None
    for metric in ALL_METRICS:
        total, count = values[f"{metric.name}_sum"], values[f"{metric.name}_count"]
        out[metric.name] = {"sum": total / MICRO, "count": count, "avg": total / MICRO / count if count else None}
    return out


def totals(store: Store, start: int, end: int, filters: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The whole range in one summary: jobs, failed, failure rate, efficiency (sum CPU / sum core
    time), and every metric's total and job-weighted mean; `wasted_core_hours` is under its metric.
    """
    params = _range_params(start, end)
    where = _where(filters, SCOPE_KEYS, params)
    sums = ", ".join(f"sum({c})" for c in VALUE_COLUMNS)
    row = store.rows(f"SELECT {sums} FROM agg WHERE {_RANGE}{where}{_projections((), filters)}", params)[0]
    return _summary(dict(zip(VALUE_COLUMNS, row)))


def series(
    store: Store,
    start: int,
    end: int,
    precision: str,
    filters: Mapping[str, Any] | None = None,
    split: str | None = None,
    split_values: Sequence[Any] | None = None,
) -> list[dict[str, Any]]:
    """One summary (as `totals`) per bucket, optionally per value of the scope key `split`.

    `split_values` keeps only those values of `split` (e.g. the top N from `top`), bound as parameters.
    """
    check_precision(precision)
    first, stop = align(start, end, precision)
    params = _range_params(first, stop)
    where = _where(filters, SCOPE_KEYS, params)
    group = "b"
    if split is not None:
        if split not in SCOPE_KEYS:
            raise ValueError(f"unknown split key {split!r}; expected one of {', '.join(SCOPE_KEYS)}")
        group = f"b, {split}"
        if split_values is not None:
            where += _where({split: list(split_values)}, SCOPE_KEYS, params, prefix="s")
    sums = ", ".join(f"sum({c})" for c in VALUE_COLUMNS)
    sql = (
        f"SELECT toUnixTimestamp({_BUCKET_SQL[precision]}) AS b{', ' + split if split else ''}, {sums} "
        f"FROM agg WHERE {_RANGE}{where} GROUP BY {group} ORDER BY {group}{_projections([split] if split else [], filters)}"
    )
    out = []
    for row in store.rows(sql, params):
        keys = 2 if split else 1
        summary = _summary(dict(zip(VALUE_COLUMNS, row[keys:])))
        summary["bucket"] = row[0]
        if split:
            summary[split] = row[1]
        out.append(summary)
    return out


def top(
    store: Store,
    start: int,
    end: int,
    key: str,
    measure: str = "jobs",
    n: int = 10,
    filters: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The `n` values of scope key `key` with the largest `measure`, with their jobs and failed counts.

    `measure`: a count column, a metric name (its total), "failure_rate" or "cpu_efficiency".
    """
    if key not in SCOPE_KEYS:
        raise ValueError(f"unknown key {key!r}; expected one of {', '.join(SCOPE_KEYS)}")
    params = _range_params(start, end)
    params["n"] = int(n)
    where = _where(filters, SCOPE_KEYS, params)
    sql = (
        f"SELECT {key}, {_metric_sql(measure)} AS v, sum(jobs), sum(failed) FROM agg "
        f"WHERE {_RANGE}{where} GROUP BY {key} ORDER BY v DESC, {key} LIMIT {{n:UInt32}}"
        f"{_projections([key], filters, _metric_sql(measure) + ' sum(jobs) sum(failed)')}"
    )
    return [{key: k, "value": v, "jobs": jobs, "failed": failed} for k, v, jobs, failed in store.rows(sql, params)]


def error_matrix(
    store: Store,
    start: int,
    end: int,
    rows: str,
    columns: str,
    split: str | None = None,
    filters: Mapping[str, Any] | None = None,
    limit: int = 10_000,
) -> list[dict[str, Any]]:
    """Error counts by two of ERROR_KEYS (e.g. workflow x site), optionally split by a third.

    Sorted by count, largest first; each dict holds the keys used and `count`.
    """
    keys = _matrix_keys(rows, columns, split)
    for key in keys:
        if key not in ERROR_KEYS:
            raise ValueError(f"unknown error key {key!r}; expected one of {', '.join(ERROR_KEYS)}")
    params = _range_params(start, end)
    where = _where(filters, ERROR_KEYS, params)
    return _matrix(store, "errors", "sum(count)", {k: k for k in keys}, where, params, limit)


# The error keys a job's first error has in `agg` (its step is the job's exit_step): what the
# overview counts, one failed job once, against the error table's every step error.
FIRST_ERROR_KEYS: dict[str, str] = {"workflow": "workflow", "task": "task", "step": "exit_step", "site": "site", "exit_code": "exit_code"}


def first_error_matrix(
    store: Store,
    start: int,
    end: int,
    rows: str,
    columns: str,
    split: str | None = None,
    filters: Mapping[str, Any] | None = None,
    limit: int = 10_000,
) -> list[dict[str, Any]]:
    """Failed jobs by their first error, by two of FIRST_ERROR_KEYS, optionally split by a third.

    The same shape as `error_matrix` (keys named as in ERROR_KEYS, `count`), so a page can switch
    between the two counts; retry_count and signature are kept per step error only.
    """
    keys = _matrix_keys(rows, columns, split)
    for key in keys + sorted(filters or {}):
        if key not in FIRST_ERROR_KEYS:
            raise ValueError(
                f"{key!r} is not kept per failed job (only per step error); counting failed jobs by their first error "
                f"takes {', '.join(FIRST_ERROR_KEYS)}"
            )
    params = _range_params(start, end)
    where = " AND failed > 0" + _where({FIRST_ERROR_KEYS[k]: v for k, v in (filters or {}).items()}, SCOPE_KEYS, params)
    return _matrix(store, "agg", "sum(failed)", {k: FIRST_ERROR_KEYS[k] for k in keys}, where, params, limit)


def _matrix_keys(rows: str, columns: str, split: str | None) -> list[str]:
    keys = [rows, columns] + ([split] if split else [])
    if len(set(keys)) != len(keys):
        raise ValueError(f"error matrix keys must differ, got {keys}")
    return keys


def _matrix(store: Store, table: str, count: str, columns: Mapping[str, str], where: str, params: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    """Counts of `table` grouped by `columns` (key -> column), largest first, as dicts of the keys and `count`."""
    params["limit"] = int(limit)
    group = ", ".join(columns.values())
    sql = (
        f"SELECT {group}, {count} AS c FROM {table} WHERE {_RANGE}{where} "
        f"GROUP BY {group} ORDER BY c DESC, {group} LIMIT {{limit:UInt32}}"
    )
    return [dict(zip([*columns, "count"], row)) for row in store.rows(sql, params)]


def error_series(
    store: Store, start: int, end: int, precision: str, filters: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Error counts per bucket (all steps' errors), for lining failures up with outages."""
    first, stop = align(start, end, precision)
    params = _range_params(first, stop)
    where = _where(filters, ERROR_KEYS, params)
    sql = (
        f"SELECT toUnixTimestamp({_BUCKET_SQL[precision]}) AS b, sum(count) FROM errors "
        f"WHERE {_RANGE}{where} GROUP BY b ORDER BY b"
    )
    return [{"bucket": b, "count": c} for b, c in store.rows(sql, params)]


_JOB_SELECT = ", ".join("toUnixTimestamp(ts)" if c == "ts" else c for c in JOB_COLUMNS)
_JOB_SEARCH = "concat(workflow, ' ', task, ' ', site, ' ', host, ' ', toString(exit_code), ' ', error_type, ' ', error_details, ' ', identity)"


def recent_jobs(
    store: Store,
    start: int,
    end: int,
    failed_only: bool = True,
    search: str | None = None,
    filters: Mapping[str, Any] | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """The newest jobs in the range (failed ones by default), each once, newest first.

    `search` is a case-insensitive substring over workflow, task, site, host, exit code,
    error type, error text and identity.
    """
    params = {**_range_params(start, end), "limit": int(limit)}
    where = _where(filters, SCOPE_KEYS, params)
    if failed_only:
        where += " AND failed = 1"
    if search:
        params["search"] = search
        where += f" AND positionCaseInsensitiveUTF8({_JOB_SEARCH}, {{search:String}}) > 0"
    sql = (
        f"SELECT {_JOB_SELECT} FROM jobs "
        "WHERE ts >= toDateTime({start:Int64}, 'UTC') AND ts < toDateTime({end:Int64}, 'UTC')"
        f"{where} ORDER BY ts DESC, identity LIMIT 1 BY identity LIMIT {{limit:UInt32}}"
    )
    return [dict(zip(JOB_COLUMNS, row)) for row in store.rows(sql, params)]


def job(store: Store, identity: str) -> dict[str, Any] | None:
    """One job by identity (while it is within the jobs retention), or None."""
    sql = f"SELECT {_JOB_SELECT} FROM jobs WHERE identity = {{identity:String}} ORDER BY ts DESC LIMIT 1"
    rows = store.rows(sql, {"identity": identity})
    return dict(zip(JOB_COLUMNS, rows[0])) if rows else None


def distinct_values(
    store: Store,
    key: str,
    start: int,
    end: int,
    prefix: str = "",
    limit: int = 50,
) -> list[Any]:
    """Values of a scope key (or the error key `step`) seen in the range, for suggestions, most jobs first."""
    params: dict[str, Any] = _range_params(start, end)
    params.update({"prefix": prefix, "limit": int(limit)})
    if key in SCOPE_KEYS:
        table, weight, hint = "agg", "sum(jobs)", _projections([key], reads="sum(jobs)")
    elif key in ERROR_KEYS:
        table, weight, hint = "errors", "sum(count)", ""
    else:
        raise ValueError(f"unknown key {key!r}; expected one of {', '.join(SCOPE_KEYS + ('step',))}")
    sql = (
        f"SELECT {key}, {weight} AS w FROM {table} WHERE {_RANGE} "
        f"AND startsWith(toString({key}), {{prefix:String}}) GROUP BY {key} ORDER BY w DESC, {key} LIMIT {{limit:UInt32}}{hint}"
    )
    return [row[0] for row in store.rows(sql, params)]


def freshness(store: Store) -> dict[str, int | None]:
    """When data last arrived: newest job time, newest aggregate bucket, newest committed flush."""
    last_job, last_bucket, last_write = store.rows(
        "SELECT (SELECT if(count() = 0, NULL, toUnixTimestamp(max(ts))) FROM jobs), "
        "(SELECT if(count() = 0, NULL, toUnixTimestamp(max(bucket))) FROM agg), "
        "(SELECT if(count() = 0, NULL, toUnixTimestamp(max(written))) FROM ingest_batches)"
    )[0]
    return {"last_job": last_job, "last_bucket": last_bucket, "last_write": last_write}


def last_seen(store: Store) -> int | None:
    """The newest event time the store holds (job time, else aggregate bucket), or None when empty."""
    fresh = freshness(store)
    return fresh["last_job"] if fresh["last_job"] is not None else fresh["last_bucket"]


def dlq_counts(store: Store, start: int, end: int) -> list[dict[str, Any]]:
    """Rejected input per reason in the range, largest first."""
    params = _range_params(start, end)
    sql = f"SELECT reason, sum(count) AS c FROM dlq_counts WHERE {_RANGE} GROUP BY reason ORDER BY c DESC, reason"
    return [{"reason": r, "count": c} for r, c in store.rows(sql, params)]


# ---------------------------------------------------------------- exactly-once ledger
# The stream worker's commit protocol (streams/checkpoint.py) writes the ledger; these are the
# reads and deletes its recovery runs.


def committed_offsets(store: Store, topic: str) -> dict[int, int]:
    """The last committed offset per partition of `topic` (resume from offset + 1)."""
    sql = "SELECT `partition`, max(last_offset) FROM ingest_batches WHERE topic = {topic:String} GROUP BY `partition`"
    return {partition: offset for partition, offset in store.rows(sql, {"topic": topic})}


def stream_batch_range(batch: str) -> tuple[str, int, int, int] | None:
    """(topic, partition, first, last offset) of a stream batch id "<topic>/<partition>/<first>-<last>"."""
    parts = batch.split("/")
    if len(parts) != 3:
        return None
    first, _, last = parts[2].partition("-")
    try:
        return parts[0], int(parts[1]), int(first), int(last)
    except ValueError:
        return None


def uncommitted_batches(store: Store, topic: str, partitions: Iterable[int]) -> list[str]:
    """Stream batches of these partitions that have rows but start beyond the committed offset.

    Judged by offsets rather than by ledger membership, so it stays right however long ago a
    committed batch was written (TTL rollups keep a batch id for years). Replay and offline rows
    (batch "" or ids not shaped like a stream batch) are never considered.
    """
    wanted = set(partitions)
    committed = committed_offsets(store, topic)
    union = " UNION ALL ".join(
        f"SELECT DISTINCT batch FROM {t} WHERE startsWith(batch, {{prefix:String}})" for t in BATCH_TABLES
    )
    found = store.rows(f"SELECT DISTINCT batch FROM ({union})", {"prefix": f"{topic}/"})
    debris = []
    for (batch,) in found:
        parsed = stream_batch_range(batch)
        if parsed is None or parsed[0] != topic or parsed[1] not in wanted:
            continue
        if parsed[2] > committed.get(parsed[1], -1):
            debris.append(batch)
    return sorted(debris)


def delete_uncommitted(store: Store, topic: str, partitions: Iterable[int]) -> list[str]:
    """Delete the debris of crashed flushes of these partitions (see uncommitted_batches); the batches removed."""
    debris = uncommitted_batches(store, topic, partitions)
    delete_batches(store, debris)
    return debris


def recent_identities(store: Store, since: int) -> set[str]:
    """Identities of the jobs stored with ts >= since, to keep deduping across a restart."""
    sql = "SELECT DISTINCT identity FROM jobs WHERE ts >= toDateTime({since:Int64}, 'UTC')"
    return {row[0] for row in store.rows(sql, {"since": int(since)})}


def delete_batches(store: Store, batches: Sequence[str]) -> None:
    """Delete every row of these batches from all batch-tagged tables, waiting until done."""
    if not batches:
        return
    for table in BATCH_TABLES:
        store.command(
            f"ALTER TABLE {table} DELETE WHERE batch IN {{batches:Array(String)}}",
            {"batches": list(batches)},
            settings={"mutations_sync": 2},
        )


def delete_range(store: Store, start: int, end: int, tables: Sequence[str] = BUCKETED_TABLES) -> None:
    """Delete the bucketed rows in [start, end) before a replay rebuilds that range.

    Align the range to the coarsest precision it is stored at (see `align`), or a rolled-up
    row straddling an edge is kept or dropped whole.
    """
    params = _range_params(start, end)
    for table in tables:
        if table not in BUCKETED_TABLES:
            raise ValueError(f"delete_range: {table!r} is not one of {', '.join(BUCKETED_TABLES)}")
        store.command(f"ALTER TABLE {table} DELETE WHERE {_RANGE}", params, settings={"mutations_sync": 2})


# ---------------------------------------------------------------- maintenance


def optimize(store: Store, table: str) -> None:
    """Merge all parts of a table now, applying TTL rollups and deletes (tests, maintenance)."""
    if table not in TABLES:
        raise ValueError(f"optimize: unknown table {table!r}; expected one of {', '.join(TABLES)}")
    store.command(f"OPTIMIZE TABLE {table} FINAL")


def applied_migrations(store: Store) -> set[str]:
    """Versions recorded in schema_migrations."""
    return {row[0] for row in store.rows("SELECT version FROM schema_migrations")}


def record_migration(store: Store, version: str) -> None:
    """Mark a migration file as applied."""
    store.insert("schema_migrations", ("version",), [(version,)])


def table_columns(store: Store, table: str) -> dict[str, str]:
    """Column name -> type of a table, in order (used to check DDL against fwjr.model)."""
    sql = "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = {table:String} ORDER BY position"
    return dict(store.rows(sql, {"table": table}))


def table_ddl(store: Store, table: str) -> str:
    """The CREATE statement the engine holds for a table (its TTL rules included)."""
    sql = "SELECT create_table_query FROM system.tables WHERE database = currentDatabase() AND name = {table:String}"
    rows = store.rows(sql, {"table": table})
    if not rows:
        raise ValueError(f"table {table!r} does not exist in the store")
    return rows[0][0]


def truncate(store: Store, table: str) -> None:
    """Empty one table (tests, and a full rebuild of the cache)."""
    if table not in TABLES:
        raise ValueError(f"truncate: unknown table {table!r}; expected one of {', '.join(TABLES)}")
    store.command(f"TRUNCATE TABLE {table}")


# ---------------------------------------------------------------- board additions (dashboard/, JSON API)
# Added for the operators' board: measures by any scope key or time, pages of a ranking,
# and error text per exit code. Same rules as above: identifiers from whitelists, values bound.

STATS: tuple[str, ...] = ("sum", "avg")
RATIO_MEASURES: tuple[str, ...] = ("failure_rate", "cpu_efficiency")


def _measure_sql(measure: str, stat: str) -> tuple[str, str]:
    """(value SQL, covered-jobs SQL) of one measure: a count, a metric's total or job-weighted mean, a ratio.

    "covered" is how many jobs carry a value, so a card can say what its number stands on.
    """
    if stat not in STATS:
        raise ValueError(f"unknown statistic {stat!r}; expected one of {', '.join(STATS)}")
    if measure in COUNT_COLUMNS or measure in RATIO_MEASURES:
        return _metric_sql(measure), "sum(jobs)"
    if measure in METRIC_NAMES:
        if stat == "avg":
            return f"sum({measure}_sum) / nullIf(sum({measure}_count), 0) / {MICRO}", f"sum({measure}_count)"
        return f"sum({measure}_sum) / {MICRO}", f"sum({measure}_count)"
    return _metric_sql(measure), "sum(jobs)"


def measure_by(
    store: Store,
    start: int,
    end: int,
    keys: Sequence[str] = (),
    measure: str = "jobs",
    stat: str = "sum",
    precision: str | None = None,
    filters: Mapping[str, Any] | None = None,
    only: Mapping[str, Sequence[Any]] | None = None,
    limit: int = 10_000,
    ordered: bool = True,
) -> list[dict[str, Any]]:
    """One measure grouped by scope keys and, with `precision`, by time bucket (`bucket`).

    Each dict holds the group's keys, `value`, `jobs` and `covered` (jobs with a value).
    `only` keeps listed values of some keys (e.g. the page of a ranking shown), bound as parameters.
    Largest value first without `precision`; in time order with it. `ordered=False` (without
    `precision`) leaves the rows in no particular order, sorting being the caller's (see
    `by_value`): the same rows, without the engine sorting them all (~45 ms of CPU for the 14.8k
    cells of a 30-day exit code x workflow view, measured); when more than `limit` rows match,
    the rows are the sorted query's, sorted.
    """
    for key in keys:
        if key not in SCOPE_KEYS:
            raise ValueError(f"unknown key {key!r}; expected one of {', '.join(SCOPE_KEYS)}")
    if len(set(keys)) != len(keys):
        raise ValueError(f"group keys must differ, got {list(keys)}")
    value_sql, covered_sql = _measure_sql(measure, stat)
    if precision is not None:
        check_precision(precision)
        start, end = align(start, end, precision)
    params = _range_params(start, end)
    params["limit"] = int(limit)
    where = _where(filters, SCOPE_KEYS, params)
    if only:
        where += _where({k: list(v) for k, v in only.items()}, SCOPE_KEYS, params, prefix="o")
    group = list(keys)
    select = list(keys)
    if precision is not None:
        group = ["b"] + group
        select = [f"toUnixTimestamp({_BUCKET_SQL[precision]}) AS b"] + select
    order = ", ".join(group) if precision is not None else "v DESC" + "".join(f", {k}" for k in keys)
    head = (
        f"SELECT {', '.join(select + [value_sql + ' AS v', 'sum(jobs)', covered_sql])} FROM agg "
        f"WHERE {_RANGE}{where}"
        + (f" GROUP BY {', '.join(group)}" if group else "")
    )
    tail = _projections(list(keys) + list(only or ()), filters, f"{value_sql} {covered_sql} sum(jobs)")
    names = (["bucket"] if precision is not None else []) + list(keys) + ["value", "jobs", "covered"]
    if not ordered and precision is None:
        params["more"] = int(limit) + 1
        rows = store.rows(f"{head} LIMIT {{more:UInt32}}{tail}", params)
        if len(rows) <= limit:
            return [dict(zip(names, row)) for row in rows]
    rows = store.rows(f"{head} ORDER BY {order} LIMIT {{limit:UInt32}}{tail}", params)
    return [dict(zip(names, row)) for row in rows]


def by_value(rows: Iterable[dict[str, Any]], keys: Sequence[str]) -> list[dict[str, Any]]:
    """`measure_by` rows in its order without `precision`: largest value first (no value last),
    then by each key ascending (text by code point, as the engine compares UTF-8 bytes)."""
    return sorted(rows, key=lambda r: (r["value"] is None, -(r["value"] or 0), *(r[k] for k in keys)))


def ranking_page(
    store: Store,
    start: int,
    end: int,
    key: str,
    measure: str = "jobs",
    stat: str = "sum",
    filters: Mapping[str, Any] | None = None,
    n: int = 10,
    offset: int = 0,
    rank_by: str | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """One page of the values of `key` ranked by a measure, and whether a further page exists.

    Each row also carries the measure over all values of the key (`total_value`, `total_jobs`,
    `total_covered`), computed by window functions in the same scan: a card's headline costs
    no second query. `rank_by` (a count column, e.g. "jobs") orders the values by that count
    instead of by the measure.
    """
    if key not in SCOPE_KEYS:
        raise ValueError(f"unknown key {key!r}; expected one of {', '.join(SCOPE_KEYS)}")
    if n < 1 or offset < 0:
        raise ValueError(f"ranking page: n must be >= 1 and offset >= 0, got n={n}, offset={offset}")
    if rank_by is not None and rank_by not in COUNT_COLUMNS:
        raise ValueError(f"unknown rank_by {rank_by!r}; expected one of {', '.join(COUNT_COLUMNS)}")
    value_sql, covered_sql = _measure_sql(measure, stat)
    order_sql = "v" if rank_by is None else f"sum({rank_by})"
    params = _range_params(start, end)
    params.update({"n": int(n) + 1, "offset": int(offset)})
    where = _where(filters, SCOPE_KEYS, params)
    totals = ", ".join(_over_all(part) for part in (value_sql, "sum(jobs)", covered_sql))
    sql = (
        f"SELECT {key}, {value_sql} AS v, sum(jobs), {covered_sql}, {totals} FROM agg WHERE {_RANGE}{where} "
        f"GROUP BY {key} ORDER BY {order_sql} DESC, {key} LIMIT {{n:UInt32}} OFFSET {{offset:UInt32}}"
        f"{_projections([key], filters, f'{value_sql} {covered_sql} {order_sql} sum(jobs)')}"
    )
    names = (key, "value", "jobs", "covered", "total_value", "total_jobs", "total_covered")
    rows = [dict(zip(names, row)) for row in store.rows(sql, params)]
    return rows[:n], len(rows) > n


def _over_all(sql: str) -> str:
    """A per-group expression made of `sum(column)` terms, evaluated over all groups instead."""
    return re.sub(r"\bsum\((\w+)\)", r"sum(sum(\1)) OVER ()", sql)


def error_snippets(
    store: Store,
    start: int,
    end: int,
    filters: Mapping[str, Any] | None = None,
    per_code: int = 3,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Distinct error messages of failed jobs per exit code, most frequent first (`per_code` each).

    Each dict: exit_code, error_type, error_details (as stored, truncated by the sink), jobs.
    """
    params = _range_params(start, end)
    params.update({"per_code": int(per_code), "limit": int(limit)})
    where = _where(filters, SCOPE_KEYS, params)
    sql = (
        "SELECT exit_code, error_type, error_details, count() AS n FROM "
        "(SELECT identity, any(exit_code) AS exit_code, any(error_type) AS error_type, "
        "any(error_details) AS error_details FROM jobs "
        "WHERE ts >= toDateTime({start:Int64}, 'UTC') AND ts < toDateTime({end:Int64}, 'UTC') "
        f"AND failed = 1{where} GROUP BY identity) "
        "GROUP BY exit_code, error_type, error_details "
        "ORDER BY exit_code, n DESC, error_details LIMIT {per_code:UInt32} BY exit_code LIMIT {limit:UInt32}"
    )
    names = ("exit_code", "error_type", "error_details", "jobs")
    return [dict(zip(names, row)) for row in store.rows(sql, params)]


def error_rows(store: Store, start: int, end: int, precision: str) -> list[dict[str, Any]]:
    """Error rows (bucket, ERROR_KEYS, count) of [start, end) re-summed at `precision`, sorted as
    `fwjr aggregate --rows errors` prints them."""
    check_precision(precision)
    keys = ", ".join(ERROR_KEYS)
    sql = (
        f"SELECT toUnixTimestamp({_BUCKET_SQL[precision]}) AS b, {keys}, sum(count) FROM errors WHERE {_RANGE} "
        f"GROUP BY b, {keys} ORDER BY b, {keys}"
    )
    names = ("bucket", *ERROR_KEYS, "count")
    return [dict(zip(names, row)) for row in store.rows(sql, _range_params(start, end))]


def top_signatures(
    store: Store,
    start: int,
    end: int,
    filters: Mapping[str, Any] | None = None,
    per_code: int = 3,
    limit: int = 60,
) -> list[dict[str, Any]]:
    """The most frequent error signatures per exit code (all step errors), with one real message each.

    Each dict: exit_code, signature, count, step, type, example ("" when no example is kept).
    """
    params = _range_params(start, end)
    params.update({"per_code": int(per_code), "limit": int(limit)})
    where = _where(filters, ERROR_KEYS, params)
    sql = (
        "SELECT c.exit_code, c.signature, c.n, e.step, e.type, e.example FROM "
        f"(SELECT exit_code, signature, sum(count) AS n FROM errors WHERE {_RANGE}{where} "
        "GROUP BY exit_code, signature) AS c "
        "LEFT JOIN (SELECT exit_code, signature, argMax(step, seen) AS step, argMax(type, seen) AS type, "
        "argMax(example, seen) AS example FROM error_examples GROUP BY exit_code, signature) AS e "
        "ON c.exit_code = e.exit_code AND c.signature = e.signature "
        "ORDER BY c.exit_code, c.n DESC, c.signature LIMIT {per_code:UInt32} BY c.exit_code LIMIT {limit:UInt32}"
    )
    names = ("exit_code", "signature", "count", "step", "type", "example")
    return [dict(zip(names, row)) for row in store.rows(sql, params)]


_JOB_TEXT_COLUMNS: tuple[str, ...] = (
    "workflow", "task", "site", "host", "toString(exit_code)", "error_type", "error_details", "identity", "fwjr_id", "wn_name",
)
_JOB_TEXT = "concat(" + ", ' ', ".join(_JOB_TEXT_COLUMNS) + ")"


def _job_text_clause(text: str) -> str:
    """SQL true when a job's text (the columns of _JOB_TEXT joined by spaces) contains `{text:String}`,
    case-insensitively.

    A text without a space cannot match across the space between two columns, so it is looked
    for in each column (no row-wide concatenation: measured ~30% cheaper); a text with a space
    may span two columns and is looked for in the joined text.
    """
    if " " in text:
        return f"positionCaseInsensitiveUTF8({_JOB_TEXT}, {{text:String}}) > 0"
    return "(" + " OR ".join(f"positionCaseInsensitiveUTF8({c}, {{text:String}}) > 0" for c in _JOB_TEXT_COLUMNS) + ")"


def search_failed_jobs(
    store: Store,
    start: int,
    end: int,
    text: str | None = None,
    filters: Mapping[str, Any] | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """The newest failed jobs, each once, whose text (as `recent_jobs`, plus fwjr_id and worker
    node) contains `text`, case-insensitively: one search box finds a job by any id an operator holds.

    A text that is exactly some failed jobs' fwjr_id or identity (wmaid) finds those jobs only,
    at any age the jobs table keeps, even outside the range: an operator who pastes an id wants
    that job (its row tells when it ran), not the jobs of the range whose ids contain it. The
    jobs table's bloom filter on the two ids (sql/0017) finds it in one granule per part. Any
    other text is searched as a substring, in the range, in one pass ordered like the table's key
    (hour of ts first), so the engine reads newest hours first and stops at `limit` jobs; a
    two-step search (newest identities, then their whole rows by key) cost 1.5-4x as much.
    """
    params: dict[str, Any] = _range_params(start, end)
    params["limit"] = int(limit)
    where = _where(filters, SCOPE_KEYS, params)
    in_range = "ts >= toDateTime({start:Int64}, 'UTC') AND ts < toDateTime({end:Int64}, 'UTC')"
    newest_each = "ORDER BY toStartOfHour(ts) DESC, ts DESC, identity LIMIT 1 BY identity LIMIT {limit:UInt32}"
    if text:
        params["text"] = text
        exact = (
            f"SELECT {_JOB_SELECT} FROM jobs WHERE failed = 1{where} "
            f"AND (fwjr_id = {{text:String}} OR identity = {{text:String}}) {newest_each}"
        )
        found = store.rows(exact, params)
        if found:
            return [dict(zip(JOB_COLUMNS, row)) for row in found]
        where += f" AND {_job_text_clause(text)}"
    sql = f"SELECT {_JOB_SELECT} FROM jobs WHERE {in_range} AND failed = 1{where} {newest_each}"
    return [dict(zip(JOB_COLUMNS, row)) for row in store.rows(sql, params)]


_HEADLINE_SQL = (
    "sum(jobs), sum(failed), sum(cpu_hours_sum), sum(core_hours_sum), sum(core_hours_count), "
    "sum(wasted_core_hours_sum), sum(wasted_core_hours_count)"
)


def _headline(values: Sequence[int]) -> dict[str, Any]:
    jobs, failed, cpu, core, core_count, wasted, wasted_count = values
    return {
        "jobs": jobs,
        "failed": failed,
        "failure_rate": failed / jobs if jobs else None,
        "cpu_efficiency": cpu / core if core else None,
        "core_hours_count": core_count,
        "wasted_core_hours": wasted / MICRO if wasted_count else None,
        "wasted_core_hours_count": wasted_count,
    }


def headline(store: Store, start: int, end: int, filters: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The overview's numbers only (jobs, failure rate, efficiency, wasted core-hours).

    Reads 7 of the ~80 value columns that `totals` sums: the live overview refreshes every
    few seconds over up to a week of rows, so what it reads is what it costs.
    """
    params = _range_params(start, end)
    where = _where(filters, SCOPE_KEYS, params)
    return _headline(store.rows(f"SELECT {_HEADLINE_SQL} FROM agg WHERE {_RANGE}{where}{_projections((), filters, _HEADLINE_SQL)}", params)[0])


def headline_series(
    store: Store, start: int, end: int, precision: str, filters: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """`headline` per bucket of `precision`, in time order (each dict also has `bucket`)."""
    check_precision(precision)
    first, stop = align(start, end, precision)
    params = _range_params(first, stop)
    where = _where(filters, SCOPE_KEYS, params)
    sql = (
        f"SELECT toUnixTimestamp({_BUCKET_SQL[precision]}) AS b, {_HEADLINE_SQL} FROM agg "
        f"WHERE {_RANGE}{where} GROUP BY b ORDER BY b{_projections((), filters, _HEADLINE_SQL)}"
    )
    return [{"bucket": row[0], **_headline(row[1:])} for row in store.rows(sql, params)]


def merges_in_progress(store: Store) -> int:
    """How many part merges (TTL rollups included) the engine is running now; benchmarks wait for 0."""
    return int(store.rows("SELECT count() FROM system.merges WHERE database = currentDatabase()")[0][0])


def row_count(store: Store, table: str) -> int:
    """Stored rows of a table, before any re-aggregation (benchmarks report store sizes)."""
    if table not in TABLES:
        raise ValueError(f"row_count: unknown table {table!r}; expected one of {', '.join(TABLES)}")
    return int(store.rows(f"SELECT count() FROM {table}")[0][0])


# ---------------------------------------------------------------- service status, outages, alerts
# Status events, the outage windows derived from them, alert history and rejected status
# events (sql/0010-0013), and the per-minute failure counts the correlation reads.

ALERTING_TABLES: tuple[str, ...] = ("service_events", "outages", "maintenance", "alerts", "status_rejects")
SERVICE_EVENT_COLUMNS: tuple[str, ...] = ("service", "ts", "state", "message", "source")
OUTAGE_COLUMNS: tuple[str, ...] = ("service", "start_ts", "end_ts", "state", "message", "source", "version")
MAINTENANCE_COLUMNS: tuple[str, ...] = ("service", "start_ts", "end_ts", "message", "source", "announced")
ALERT_COLUMNS: tuple[str, ...] = (
    "id", "scope", "value", "state", "started", "fired", "resolved", "evidence", "members", "version",
)


def insert_service_events(store: Store, rows: Sequence[Sequence[Any]]) -> int:
    """Rows in SERVICE_EVENT_COLUMNS order (ts as epoch seconds)."""
    return store.insert("service_events", SERVICE_EVENT_COLUMNS, rows)


def insert_outages(store: Store, rows: Sequence[Sequence[Any]]) -> int:
    """Rows in OUTAGE_COLUMNS order; end_ts 0 = still open; the highest version of a window wins."""
    return store.insert("outages", OUTAGE_COLUMNS, rows)


def insert_alerts(store: Store, rows: Sequence[Sequence[Any]]) -> int:
    """Rows in ALERT_COLUMNS order; resolved 0 = still firing; the highest version of an alert wins."""
    return store.insert("alerts", ALERT_COLUMNS, rows)


def insert_status_rejects(store: Store, rows: Sequence[Sequence[Any]]) -> int:
    """(bucket, reason, count) rows."""
    return store.insert("status_rejects", ("bucket", "reason", "count"), rows)


def outage_windows(store: Store, start: int, end: int, service: str | None = None) -> list[dict[str, Any]]:
    """Outage windows overlapping [start, end) (open ones included), oldest first; end None = still open."""
    params = _range_params(start, end)
    where = ""
    if service is not None:
        params["service"] = service
        where = " AND service = {service:String}"
    sql = (
        "SELECT service, toUnixTimestamp(start_ts) AS s, toUnixTimestamp(argMax(end_ts, version)) AS e, "
        "argMax(state, version), argMax(message, version), argMax(source, version) "
        f"FROM outages WHERE start_ts < toDateTime({{end:Int64}}, 'UTC'){where} GROUP BY service, start_ts "
        "HAVING e = 0 OR e > {start:Int64} ORDER BY s, service"
    )
    names = ("service", "start", "end", "state", "message", "source")
    rows = [dict(zip(names, row)) for row in store.rows(sql, params)]
    for row in rows:
        row["end"] = row["end"] or None
    return rows


def insert_maintenance(store: Store, rows: Sequence[Sequence[Any]]) -> int:
    """Rows in MAINTENANCE_COLUMNS order (times as epoch seconds)."""
    return store.insert("maintenance", MAINTENANCE_COLUMNS, rows)


def maintenance_windows(store: Store, start: int, end: int) -> list[dict[str, Any]]:
    """Planned maintenance windows overlapping [start, end), earliest first; the latest announcement's
    message of each window."""
    sql = (
        "SELECT service, toUnixTimestamp(start_ts) AS s, toUnixTimestamp(end_ts) AS e, argMax(message, announced), "
        "argMax(source, announced) FROM maintenance "
        "WHERE start_ts < toDateTime({end:Int64}, 'UTC') AND end_ts > toDateTime({start:Int64}, 'UTC') "
        "GROUP BY service, start_ts, end_ts ORDER BY s, service, e"
    )
    names = ("service", "start", "end", "message", "source")
    return [dict(zip(names, row)) for row in store.rows(sql, _range_params(start, end))]


def service_events(store: Store, start: int, end: int, service: str | None = None) -> list[dict[str, Any]]:
    """Status events in [start, end), oldest first, each once."""
    params = _range_params(start, end)
    where = ""
    if service is not None:
        params["service"] = service
        where = " AND service = {service:String}"
    sql = (
        "SELECT service, toUnixTimestamp(ts), state, message, source FROM service_events "
        f"WHERE ts >= toDateTime({{start:Int64}}, 'UTC') AND ts < toDateTime({{end:Int64}}, 'UTC'){where} "
        "ORDER BY ts, service LIMIT 1 BY service, ts, state, source"
    )
    return [dict(zip(SERVICE_EVENT_COLUMNS, row)) for row in store.rows(sql, params)]


def alert_history(store: Store, since: int, limit: int = 200) -> list[dict[str, Any]]:
    """Alerts firing now or fired since `since`, newest first, each in its latest state."""
    sql = (
        "SELECT id, argMax(scope, version), argMax(value, version), argMax(state, version), "
        "toUnixTimestamp(argMax(started, version)), toUnixTimestamp(argMax(fired, version)) AS f, "
        "toUnixTimestamp(argMax(resolved, version)) AS r, argMax(evidence, version), argMax(members, version) "
        "FROM alerts GROUP BY id HAVING r = 0 OR f >= {since:Int64} ORDER BY f DESC, id LIMIT {limit:UInt32}"
    )
    names = ("id", "scope", "value", "state", "started", "fired", "resolved", "evidence", "members")
    rows = [dict(zip(names, row)) for row in store.rows(sql, {"since": int(since), "limit": int(limit)})]
    for row in rows:
        row["resolved"] = row["resolved"] or None
    return rows


def status_reject_counts(store: Store, start: int, end: int) -> dict[str, int]:
    """Rejected status events in [start, end) per reason."""
    sql = f"SELECT reason, sum(count) FROM status_rejects WHERE {_RANGE} GROUP BY reason ORDER BY reason"
    return {reason: count for reason, count in store.rows(sql, _range_params(start, end))}


def failure_counts(
    store: Store, start: int, end: int, precision: str = "minute", filters: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """(bucket, site, exit_code, jobs, failed) per bucket of `precision`, for correlating with outages."""
    check_precision(precision)
    params = _range_params(start, end)
    where = _where(filters, SCOPE_KEYS, params)
    sql = (
        f"SELECT toUnixTimestamp({_BUCKET_SQL[precision]}) AS b, site, exit_code, sum(jobs), sum(failed) FROM agg "
        f"WHERE {_RANGE}{where} GROUP BY b, site, exit_code ORDER BY b, site, exit_code{_projections(('site', 'exit_code'), filters)}"
    )
    names = ("bucket", "site", "exit_code", "jobs", "failed")
    return [dict(zip(names, row)) for row in store.rows(sql, params)]


def job_window(store: Store, identity: str) -> tuple[int, int] | None:
    """(start, end) epoch seconds of a stored job: its report time minus its wall time, to its report time."""
    sql = "SELECT toUnixTimestamp(ts), wall_time FROM jobs WHERE identity = {identity:String} LIMIT 1"
    rows = store.rows(sql, {"identity": identity})
    if not rows:
        return None
    ts, wall = rows[0]
    return int(ts - max(wall or 0.0, 0.0)), int(ts)


# ---------------------------------------------------------------- triage evidence (fwjr/triage)
# What the triage decision reads: jobs and failures per workflow, task and site, inside and
# outside outage windows; site totals for the site status; error patterns with one message each.


def scope_outage_counts(
    store: Store,
    start: int,
    end: int,
    windows: Sequence[tuple[int, int]],
    bucket_seconds: int,
    filters: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """(workflow, task, site, inside, jobs, failed, wasted_core_hours) over [start, end).

    `inside` is 1 for the buckets an outage window [start, end) covers any part of (a stored
    bucket is `bucket_seconds` long), as fwjr.alerting.correlate counts them.
    """
    params = _range_params(start, end)
    params.update({"starts": [int(s) for s, _ in windows], "ends": [int(e) for _, e in windows], "size": int(bucket_seconds)})
    where = _where(filters, SCOPE_KEYS, params)
    inside = (
        "arrayExists((s, e) -> s < toUnixTimestamp(bucket) + {size:Int64} AND e > toUnixTimestamp(bucket), "
        "{starts:Array(Int64)}, {ends:Array(Int64)})"
    )
    reads = "sum(jobs) sum(failed) sum(wasted_core_hours_sum)"
    sql = (
        f"SELECT workflow, task, site, toUInt8({inside}) AS inside, sum(jobs), sum(failed), sum(wasted_core_hours_sum) / {MICRO} "
        f"FROM agg WHERE {_RANGE}{where} GROUP BY workflow, task, site, inside ORDER BY workflow, task, site, inside"
        f"{_projections(('workflow', 'task', 'site'), filters, reads)}"
    )
    names = ("workflow", "task", "site", "inside", "jobs", "failed", "wasted_core_hours")
    return [dict(zip(names, row)) for row in store.rows(sql, params)]


def site_counts(store: Store, start: int, end: int, filters: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """(site, jobs, failed, cpu_hours, core_hours) per site over [start, end), most jobs first."""
    params = _range_params(start, end)
    where = _where(filters, SCOPE_KEYS, params)
    reads = "sum(jobs) sum(failed) sum(cpu_hours_sum) sum(core_hours_sum)"
    sql = (
        f"SELECT site, sum(jobs) AS j, sum(failed), sum(cpu_hours_sum) / {MICRO}, sum(core_hours_sum) / {MICRO} "
        f"FROM agg WHERE {_RANGE}{where} GROUP BY site ORDER BY j DESC, site{_projections(('site',), filters, reads)}"
    )
    names = ("site", "jobs", "failed", "cpu_hours", "core_hours")
    return [dict(zip(names, row)) for row in store.rows(sql, params)]


def error_patterns(
    store: Store, start: int, end: int, filters: Mapping[str, Any] | None = None, limit: int = 200_000
) -> list[dict[str, Any]]:
    """Step errors per (workflow, task, step, site, exit_code, signature) over [start, end), with
    one stored message of the (exit_code, signature) ("" when none is kept), largest first."""
    params = _range_params(start, end)
    params["limit"] = int(limit)
    where = _where(filters, ERROR_KEYS, params)
    keys = "workflow, task, step, site, exit_code, signature"
    sql = (
        "SELECT c.workflow, c.task, c.step, c.site, c.exit_code, c.signature, c.n, e.example FROM "
        f"(SELECT {keys}, sum(count) AS n FROM errors WHERE {_RANGE}{where} GROUP BY {keys}) AS c "
        "LEFT JOIN (SELECT exit_code, signature, argMax(example, seen) AS example FROM error_examples "
        "GROUP BY exit_code, signature) AS e ON c.exit_code = e.exit_code AND c.signature = e.signature "
        "ORDER BY c.n DESC, c.workflow, c.task, c.step, c.site, c.exit_code, c.signature LIMIT {limit:UInt32}"
    )
    names = ("workflow", "task", "step", "site", "exit_code", "signature", "count", "example")
    return [dict(zip(names, row)) for row in store.rows(sql, params)]


def error_pattern_counts(store: Store, start: int, end: int, filters: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Step errors per (workflow, exit_code, site, step) over [start, end): the error patterns
    without signatures and messages, all that similar workflows are judged on (a fifth of the
    time of `error_patterns`, which joins the stored messages)."""
    params = _range_params(start, end)
    where = _where(filters, ERROR_KEYS, params)
    sql = (
        f"SELECT workflow, exit_code, site, step, sum(count) FROM errors WHERE {_RANGE}{where} "
        "GROUP BY workflow, exit_code, site, step ORDER BY workflow, exit_code, site, step"
    )
    names = ("workflow", "exit_code", "site", "step", "count")
    return [dict(zip(names, row)) for row in store.rows(sql, params)]


def failing_workflows(store: Store, start: int, end: int, filters: Mapping[str, Any] | None = None) -> set[str]:
    """The workflows with failed jobs matching `filters` (scope keys) over [start, end): what a
    filter on a key the decisions do not carry selects (fwjr.triage.select)."""
    params = _range_params(start, end)
    where = _where(filters, SCOPE_KEYS, params)
    sql = (
        f"SELECT workflow FROM agg WHERE {_RANGE}{where} GROUP BY workflow HAVING sum(failed) > 0"
        f"{_projections(('workflow',), filters, 'sum(failed)')}"
    )
    return {workflow for (workflow,) in store.rows(sql, params)}


def error_code_counts(store: Store, start: int, end: int) -> dict[int, int]:
    """Step errors per exit code over [start, end), all workflows: each code's usual rate."""
    sql = f"SELECT exit_code, sum(count) FROM errors WHERE {_RANGE} GROUP BY exit_code ORDER BY exit_code"
    return {int(code): int(count) for code, count in store.rows(sql, _range_params(start, end))}


# ---------------------------------------------------------------- replay: atomic range replace
# How a replay replaces a range of `agg` and `errors` together, so that no reader and no crash
# sees one table replaced and the other not: see RangeReplace.

REPLACED_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "agg": ("agg_replay_staging", AGG_COLUMNS),
    "errors": ("errors_replay_staging", ERROR_COLUMNS),
}
_IN_RANGE = "bucket >= toDateTime({start:Int64}, 'UTC') AND bucket < toDateTime({end:Int64}, 'UTC')"
# An emptied month (every row of it was in the range, the replay found none) is a legitimate result.
_REPLACE_SETTINGS = {"allow_replace_partition_from_empty_source": 1}


@dataclass(frozen=True)
class ReplaceSummary:
    """What one replace did, per table: rows removed from the range and rows written into it."""

    start: int
    end: int
    partitions: list[str]
    removed: dict[str, int]
    written: dict[str, int]
    buckets: int
    batch: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def month_partitions(start: int, end: int) -> list[str]:
    """Partition ids (toYYYYMM) of every month that [start, end) touches."""
    if end <= start:
        raise ValueError(f"empty time range: start {start} is not before end {end}")
    first = datetime.fromtimestamp(start, tz=timezone.utc)
    last = datetime.fromtimestamp(end - 1, tz=timezone.utc)
    year, month = first.year, first.month
    found = []
    while (year, month) <= (last.year, last.month):
        found.append(f"{year:04d}{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


class RangeReplace:
    """Replace [start, end) of every replayed table with the replay's rows, as one visible step.

    The tables are partitioned by month; `ALTER TABLE ... REPLACE PARTITION` swaps whole
    partitions of one table in one step, and ClickHouse has nothing that swaps two tables at
    once (EXCHANGE of several pairs runs them one after the other). So the replace is staged
    and journaled, and the swaps happen with the Store's lock held:

    1. **Stage** each table (`stage`): drop and recreate `<table>_replay_staging` `AS` the table
       (same columns, keys, projections, partitioning), merges stopped on it (it lives for one
       swap); copy into it the rows of every touched month that lie outside the range, exactly
       as stored (rolled-up rows and batch ids kept); insert the replay's rows for the range.
    2. **Commit** (`commit`): one `replace_journal` row, state `staged`. Before it, a stopped
       replace leaves the live tables untouched; from it on, the replace is finished whatever
       happens (`recover_replaces` redoes the swaps from the staging tables).
    3. **Swap** each table (`swap`): one `REPLACE PARTITION ... FROM staging` over every touched
       month (idempotent: a redone swap copies the same parts again).
    4. **Finish** (`finish`): a `done` journal row; the staging tables are dropped.

    Readers: every read and write of the store in the owning process goes through the Store's
    lock, which `run` holds from step 1 to step 4, so a reader sees the range before the replace
    or after it, both tables of one version; live stream writes wait and land after the swap,
    once (rows outside the range were copied as stored, so nothing written earlier is lost).
    A crash: `recover_replaces` (at the next replace, and when the worker opens the store)
    rolls a committed replace forward and a staged-but-uncommitted one back, before any reader.

    Limit with a ClickHouse server: readers and writers in *other* processes do not take this
    lock; they can see the few milliseconds between the two swaps, and rows they insert into a
    touched month between step 1 and step 3 are replaced away.
    """

    def __init__(self, store: Store, start: int, end: int, aggregates: pa.Table, errors: pa.Table, batch: str) -> None:
        """Checks everything before the store is touched: rows outside the range are refused.

        `aggregates`: bucket (epoch s), SCOPE_KEYS, value columns; `errors`: bucket, ERROR_KEYS,
        count. The range should be aligned to what the store holds there (fwjr.replay_range),
        or a rolled-up row across an edge is kept whole.
        """
        self.store = store
        self.start, self.end, self.batch = int(start), int(end), batch
        self.incoming = {"agg": _arrow_with_batch(aggregates, batch, AGG_COLUMNS), "errors": _arrow_with_batch(errors, batch, ERROR_COLUMNS)}
        for table, rows in self.incoming.items():
            _check_inside(table, rows, self.start, self.end)
        self.partitions = month_partitions(self.start, self.end)
        self.params = {"start": self.start, "end": self.end, "partitions": self.partitions}
        self.removed: dict[str, int] = {}

    def run(self) -> ReplaceSummary:
        """Steps 1-4 with the Store's lock held, after finishing any replace a crash left."""
        with self.store._lock:
            recover_replaces(self.store)
            for table in REPLACED_TABLES:
                self.stage(table)
            self.commit()
            for table in REPLACED_TABLES:
                self.swap(table)
            self.finish()
        return self.summary()

    def stage(self, table: str) -> None:
        """Step 1 for one table."""
        staging = REPLACED_TABLES[table][0]
        self.removed[table] = self.store.rows(f"SELECT count() FROM {table} WHERE {_IN_RANGE}", self.params)[0][0]
        self.store.command(f"DROP TABLE IF EXISTS {staging}")
        self.store.command(f"CREATE TABLE {staging} AS {table}")
        # A merge of its parts would be wasted CPU, and its DROP waited for that merge
        # (2.6 of 8.9 s for a day of minute rows).
        self.store.command(f"SYSTEM STOP MERGES {staging}")
        self.store.command(
            f"INSERT INTO {staging} SELECT * FROM {table} "
            f"WHERE _partition_id IN {{partitions:Array(String)}} AND NOT ({_IN_RANGE})",
            self.params,
        )
        if self.incoming[table].num_rows:
            self.store.client.insert_arrow(staging, self.incoming[table])

    def commit(self) -> None:
        """Step 2: the commit point."""
        _journal(self.store, self.batch, self.start, self.end, self.partitions, "staged")

    def swap(self, table: str) -> None:
        """Step 3 for one table."""
        _swap(self.store, table, self.partitions)

    def finish(self) -> None:
        """Step 4."""
        _finish(self.store, self.batch, self.start, self.end, self.partitions)

    def summary(self) -> ReplaceSummary:
        incoming = self.incoming
        buckets = len(set(incoming["agg"].column("bucket").to_pylist()) | set(incoming["errors"].column("bucket").to_pylist()))
        written = {table: rows.num_rows for table, rows in incoming.items()}
        return ReplaceSummary(self.start, self.end, self.partitions, dict(self.removed), written, buckets, self.batch)


def replace_range(store: Store, start: int, end: int, aggregates: pa.Table, errors: pa.Table, batch: str) -> ReplaceSummary:
    """Make the range [start, end) of `agg` and `errors` hold exactly these rows (RangeReplace)."""
    return RangeReplace(store, start, end, aggregates, errors, batch).run()


@dataclass(frozen=True)
class ReplaceRecovery:
    """What `recover_replaces` did: replaces finished from their staging tables, staging tables
    dropped, and committed replaces that could not be finished (their staging tables were gone)."""

    finished: list[str]
    dropped: list[str]
    abandoned: list[str]


def recover_replaces(store: Store) -> ReplaceRecovery:
    """Finish every committed replace a crash interrupted; drop the staging of an uncommitted one.

    Run before anything reads or writes the replayed tables (the worker on start, every replace
    before its own), so no reader sees a half-swapped range. A committed replace whose staging
    tables are gone (dropped by hand, or by another process's recovery on a server) cannot be
    finished: it is journaled `abandoned` and returned, and its range needs another replay.
    """
    staging = [name for name, _ in REPLACED_TABLES.values()]
    finished: list[str] = []
    abandoned: list[str] = []
    with store._lock:
        open_replaces = store.rows(
            "SELECT batch, toUnixTimestamp(argMax(start, at)), toUnixTimestamp(argMax(`end`, at)), argMax(partitions, at) "
            "FROM replace_journal GROUP BY batch HAVING argMax(state, at) = 'staged' ORDER BY batch"
        )
        for batch, start, end, partitions in open_replaces:
            if _existing(store, staging) != staging:
                _journal(store, batch, int(start), int(end), list(partitions), "abandoned")
                abandoned.append(batch)
                continue
            for table in REPLACED_TABLES:
                _swap(store, table, list(partitions))
            _finish(store, batch, int(start), int(end), list(partitions))
            finished.append(batch)
        left = _existing(store, staging)
        for name in left:
            store.command(f"DROP TABLE IF EXISTS {name}")
    return ReplaceRecovery(finished, left, abandoned)


def _existing(store: Store, tables: list[str]) -> list[str]:
    """Which of these tables exist, in the order given."""
    sql = "SELECT name FROM system.tables WHERE database = currentDatabase() AND name IN {names:Array(String)}"
    found = {row[0] for row in store.rows(sql, {"names": tables})}
    return [name for name in tables if name in found]


def _journal(store: Store, batch: str, start: int, end: int, partitions: list[str], state: str) -> None:
    store.insert(
        "replace_journal", ("batch", "start", "end", "partitions", "state"),
        [[batch, datetime.fromtimestamp(start, tz=timezone.utc), datetime.fromtimestamp(end, tz=timezone.utc), partitions, state]],
    )


def _swap(store: Store, table: str, partitions: list[str]) -> None:
    staging = REPLACED_TABLES[table][0]
    swaps = ", ".join(f"REPLACE PARTITION ID {{p{i}:String}} FROM {staging}" for i in range(len(partitions)))
    store.command(
        f"ALTER TABLE {table} {swaps}",
        {f"p{i}": partition for i, partition in enumerate(partitions)},
        settings=_REPLACE_SETTINGS,
    )


def _finish(store: Store, batch: str, start: int, end: int, partitions: list[str]) -> None:
    _journal(store, batch, start, end, partitions, "done")
    for staging, _ in REPLACED_TABLES.values():
        store.command(f"DROP TABLE IF EXISTS {staging}")


def _arrow_with_batch(rows: pa.Table, batch: str, columns: tuple[str, ...]) -> pa.Table:
    """The rows in the table's column order, each tagged with the replay's batch id."""
    rows = rows.append_column("batch", pa.array([batch] * rows.num_rows, pa.string()))
    missing = [name for name in columns if name not in rows.column_names]
    if missing:
        raise ValueError(f"replay rows lack columns {missing}; they have {rows.column_names}")
    return rows.select(list(columns))


def _check_inside(table: str, rows: pa.Table, start: int, end: int) -> None:
    if not rows.num_rows:
        return
    buckets = rows.column("bucket").to_pylist()
    low, high = min(buckets), max(buckets)
    if low < start or high >= end:
        raise ValueError(
            f"replay rows for {table} have buckets {low}..{high}, outside the range [{start}, {end}) being replaced"
        )



def stored_rows(store: Store, table: str, start: int, end: int) -> list[tuple]:
    """The range's rows of `agg` or `errors` re-summed per stored bucket and keys, batch ids left
    out, sorted: what a replay of the range must reproduce (and what tests compare)."""
    if table not in REPLACED_TABLES:
        raise ValueError(f"stored_rows: {table!r} is not one of {', '.join(REPLACED_TABLES)}")
    keys = ", ".join(("toUnixTimestamp(bucket) AS b",) + (SCOPE_KEYS if table == "agg" else ERROR_KEYS))
    order = ", ".join(("b",) + (SCOPE_KEYS if table == "agg" else ERROR_KEYS))
    values = ", ".join(f"sum({c})" for c in (VALUE_COLUMNS if table == "agg" else ("count",)))
    sql = f"SELECT {keys}, {values} FROM {table} WHERE {_IN_RANGE} GROUP BY {order} ORDER BY {order}"
    return store.rows(sql, {"start": int(start), "end": int(end)})


def table_rows(store: Store, table: str) -> list[tuple]:
    """Every row of `agg` or `errors` exactly as stored (bucket as epoch seconds, batch last), sorted:
    two replays of one range must leave these identical."""
    if table not in REPLACED_TABLES:
        raise ValueError(f"table_rows: {table!r} is not one of {', '.join(REPLACED_TABLES)}")
    columns = ", ".join("toUnixTimestamp(bucket)" if c == "bucket" else c for c in REPLACED_TABLES[table][1])
    return sorted(tuple(row) for row in store.rows(f"SELECT {columns} FROM {table}"))
