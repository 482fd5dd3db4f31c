"""The board's and the API's reads of the aggregates: rows in the shared contract, totals,
series, rankings, measures by any scope key, headline numbers, freshness.

Rollups and merges run only when parts merge, so every read re-aggregates with
`sum ... GROUP BY` and never assumes a TTL rule has run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fwjr.aggregate import MICRO, ROW_COLUMNS, VALUE_COLUMNS
from fwjr.bucket import check_precision
from fwjr.metrics import ALL_METRICS
from fwjr.model import COUNT_COLUMNS, ERROR_KEYS, SCOPE_KEYS
from fwjr.store.connection import Store
from fwjr.store.sql import (
    BUCKET_SQL,
    RANGE_SQL,
    align,
    filter_sql,
    measure_sql,
    metric_sql,
    projection_setting,
    range_params,
)


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
    params = range_params(first, stop)
    where = filter_sql(filters, SCOPE_KEYS, params)
    scope = ", ".join(SCOPE_KEYS)
    sums = ", ".join(f"sum({c})" for c in VALUE_COLUMNS)
    sql = (
        f"SELECT toUnixTimestamp({BUCKET_SQL[precision]}) AS b, {scope}, {sums} FROM agg "
        f"WHERE {RANGE_SQL}{where} GROUP BY b, {scope} ORDER BY b, {scope}{projection_setting(SCOPE_KEYS)}"
    )
    return ROW_COLUMNS, store.rows(sql, params)


def value_summary(values: Mapping[str, int]) -> dict[str, Any]:
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
    params = range_params(start, end)
    where = filter_sql(filters, SCOPE_KEYS, params)
    sums = ", ".join(f"sum({c})" for c in VALUE_COLUMNS)
    row = store.rows(f"SELECT {sums} FROM agg WHERE {RANGE_SQL}{where}{projection_setting((), filters)}", params)[0]
    return value_summary(dict(zip(VALUE_COLUMNS, row)))


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
    params = range_params(first, stop)
    where = filter_sql(filters, SCOPE_KEYS, params)
    group = "b"
    if split is not None:
        if split not in SCOPE_KEYS:
            raise ValueError(f"unknown split key {split!r}; expected one of {', '.join(SCOPE_KEYS)}")
        group = f"b, {split}"
        if split_values is not None:
            where += filter_sql({split: list(split_values)}, SCOPE_KEYS, params, prefix="s")
    sums = ", ".join(f"sum({c})" for c in VALUE_COLUMNS)
    sql = (
        f"SELECT toUnixTimestamp({BUCKET_SQL[precision]}) AS b{', ' + split if split else ''}, {sums} "
        f"FROM agg WHERE {RANGE_SQL}{where} GROUP BY {group} ORDER BY {group}{projection_setting([split] if split else [], filters)}"
    )
    out = []
    for row in store.rows(sql, params):
        keys = 2 if split else 1
        summary = value_summary(dict(zip(VALUE_COLUMNS, row[keys:])))
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
    params = range_params(start, end)
    params["n"] = int(n)
    where = filter_sql(filters, SCOPE_KEYS, params)
    sql = (
        f"SELECT {key}, {metric_sql(measure)} AS v, sum(jobs), sum(failed) FROM agg "
        f"WHERE {RANGE_SQL}{where} GROUP BY {key} ORDER BY v DESC, {key} LIMIT {{n:UInt32}}"
        f"{projection_setting([key], filters, metric_sql(measure) + ' sum(jobs) sum(failed)')}"
    )
    return [{key: k, "value": v, "jobs": jobs, "failed": failed} for k, v, jobs, failed in store.rows(sql, params)]


def distinct_values(
    store: Store,
    key: str,
    start: int,
    end: int,
    prefix: str = "",
    limit: int = 50,
) -> list[Any]:
    """Values of a scope key (or the error key `step`) seen in the range, for suggestions, most jobs first."""
    params: dict[str, Any] = range_params(start, end)
    params.update({"prefix": prefix, "limit": int(limit)})
    if key in SCOPE_KEYS:
        table, weight, hint = "agg", "sum(jobs)", projection_setting([key], reads="sum(jobs)")
    elif key in ERROR_KEYS:
        table, weight, hint = "errors", "sum(count)", ""
    else:
        raise ValueError(f"unknown key {key!r}; expected one of {', '.join(SCOPE_KEYS + ('step',))}")
    sql = (
        f"SELECT {key}, {weight} AS w FROM {table} WHERE {RANGE_SQL} "
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
    params = range_params(start, end)
    sql = f"SELECT reason, sum(count) AS c FROM dlq_counts WHERE {RANGE_SQL} GROUP BY reason ORDER BY c DESC, reason"
    return [{"reason": r, "count": c} for r, c in store.rows(sql, params)]


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
    `by_value`): the same rows, without the engine sorting them all (a large share of a wide
    view's CPU, docs/board.md); when more than `limit` rows match,
    the rows are the sorted query's, sorted.
    """
    for key in keys:
        if key not in SCOPE_KEYS:
            raise ValueError(f"unknown key {key!r}; expected one of {', '.join(SCOPE_KEYS)}")
    if len(set(keys)) != len(keys):
        raise ValueError(f"group keys must differ, got {list(keys)}")
    value_sql, covered_sql = measure_sql(measure, stat)
    if precision is not None:
        check_precision(precision)
        start, end = align(start, end, precision)
    params = range_params(start, end)
    params["limit"] = int(limit)
    where = filter_sql(filters, SCOPE_KEYS, params)
    if only:
        where += filter_sql({k: list(v) for k, v in only.items()}, SCOPE_KEYS, params, prefix="o")
    group = list(keys)
    select = list(keys)
    if precision is not None:
        group = ["b"] + group
        select = [f"toUnixTimestamp({BUCKET_SQL[precision]}) AS b"] + select
    order = ", ".join(group) if precision is not None else "v DESC" + "".join(f", {k}" for k in keys)
    head = (
        f"SELECT {', '.join(select + [value_sql + ' AS v', 'sum(jobs)', covered_sql])} FROM agg "
        f"WHERE {RANGE_SQL}{where}"
        + (f" GROUP BY {', '.join(group)}" if group else "")
    )
    tail = projection_setting(list(keys) + list(only or ()), filters, f"{value_sql} {covered_sql} sum(jobs)")
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
    value_sql, covered_sql = measure_sql(measure, stat)
    order_sql = "v" if rank_by is None else f"sum({rank_by})"
    params = range_params(start, end)
    params.update({"n": int(n) + 1, "offset": int(offset)})
    where = filter_sql(filters, SCOPE_KEYS, params)
    totals = ", ".join(over_all(part) for part in (value_sql, "sum(jobs)", covered_sql))
    sql = (
        f"SELECT {key}, {value_sql} AS v, sum(jobs), {covered_sql}, {totals} FROM agg WHERE {RANGE_SQL}{where} "
        f"GROUP BY {key} ORDER BY {order_sql} DESC, {key} LIMIT {{n:UInt32}} OFFSET {{offset:UInt32}}"
        f"{projection_setting([key], filters, f'{value_sql} {covered_sql} {order_sql} sum(jobs)')}"
    )
    names = (key, "value", "jobs", "covered", "total_value", "total_jobs", "total_covered")
    rows = [dict(zip(names, row)) for row in store.rows(sql, params)]
    return rows[:n], len(rows) > n


def over_all(sql: str) -> str:
    """A per-group expression made of `sum(column)` terms, evaluated over all groups instead."""
    return re.sub(r"\bsum\((\w+)\)", r"sum(sum(\1)) OVER ()", sql)


HEADLINE_SQL = (
    "sum(jobs), sum(failed), sum(cpu_hours_sum), sum(core_hours_sum), sum(core_hours_count), "
    "sum(wasted_core_hours_sum), sum(wasted_core_hours_count)"
)


def headline_values(values: Sequence[int]) -> dict[str, Any]:
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
    params = range_params(start, end)
    where = filter_sql(filters, SCOPE_KEYS, params)
    return headline_values(store.rows(f"SELECT {HEADLINE_SQL} FROM agg WHERE {RANGE_SQL}{where}{projection_setting((), filters, HEADLINE_SQL)}", params)[0])


def headline_series(
    store: Store, start: int, end: int, precision: str, filters: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """`headline` per bucket of `precision`, in time order (each dict also has `bucket`)."""
    check_precision(precision)
    first, stop = align(start, end, precision)
    params = range_params(first, stop)
    where = filter_sql(filters, SCOPE_KEYS, params)
    sql = (
        f"SELECT toUnixTimestamp({BUCKET_SQL[precision]}) AS b, {HEADLINE_SQL} FROM agg "
        f"WHERE {RANGE_SQL}{where} GROUP BY b ORDER BY b{projection_setting((), filters, HEADLINE_SQL)}"
    )
    return [{"bucket": row[0], **headline_values(row[1:])} for row in store.rows(sql, params)]
