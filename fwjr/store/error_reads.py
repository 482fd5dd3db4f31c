"""Reads of the step errors (`errors`) and of failed jobs' first errors (`agg`): matrices,
snippets, the offline error rows, top signatures with one real message each.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fwjr.bucket import check_precision
from fwjr.model import ERROR_KEYS, SCOPE_KEYS
from fwjr.store.connection import Store
from fwjr.store.sql import BUCKET_SQL, RANGE_SQL, filter_sql, range_params


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
    keys = matrix_keys(rows, columns, split)
    for key in keys:
        if key not in ERROR_KEYS:
            raise ValueError(f"unknown error key {key!r}; expected one of {', '.join(ERROR_KEYS)}")
    params = range_params(start, end)
    where = filter_sql(filters, ERROR_KEYS, params)
    return matrix(store, "errors", "sum(count)", {k: k for k in keys}, where, params, limit)


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
    keys = matrix_keys(rows, columns, split)
    for key in keys + sorted(filters or {}):
        if key not in FIRST_ERROR_KEYS:
            raise ValueError(
                f"{key!r} is not kept per failed job (only per step error); counting failed jobs by their first error "
                f"takes {', '.join(FIRST_ERROR_KEYS)}"
            )
    params = range_params(start, end)
    where = " AND failed > 0" + filter_sql({FIRST_ERROR_KEYS[k]: v for k, v in (filters or {}).items()}, SCOPE_KEYS, params)
    return matrix(store, "agg", "sum(failed)", {k: FIRST_ERROR_KEYS[k] for k in keys}, where, params, limit)


def matrix_keys(rows: str, columns: str, split: str | None) -> list[str]:
    keys = [rows, columns] + ([split] if split else [])
    if len(set(keys)) != len(keys):
        raise ValueError(f"error matrix keys must differ, got {keys}")
    return keys


def matrix(store: Store, table: str, count: str, columns: Mapping[str, str], where: str, params: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    """Counts of `table` grouped by `columns` (key -> column), largest first, as dicts of the keys and `count`."""
    params["limit"] = int(limit)
    group = ", ".join(columns.values())
    sql = (
        f"SELECT {group}, {count} AS c FROM {table} WHERE {RANGE_SQL}{where} "
        f"GROUP BY {group} ORDER BY c DESC, {group} LIMIT {{limit:UInt32}}"
    )
    return [dict(zip([*columns, "count"], row)) for row in store.rows(sql, params)]


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
    params = range_params(start, end)
    params.update({"per_code": int(per_code), "limit": int(limit)})
    where = filter_sql(filters, SCOPE_KEYS, params)
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
        f"SELECT toUnixTimestamp({BUCKET_SQL[precision]}) AS b, {keys}, sum(count) FROM errors WHERE {RANGE_SQL} "
        f"GROUP BY b, {keys} ORDER BY b, {keys}"
    )
    names = ("bucket", *ERROR_KEYS, "count")
    return [dict(zip(names, row)) for row in store.rows(sql, range_params(start, end))]


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
    params = range_params(start, end)
    params.update({"per_code": int(per_code), "limit": int(limit)})
    where = filter_sql(filters, ERROR_KEYS, params)
    sql = (
        "SELECT c.exit_code, c.signature, c.n, e.step, e.type, e.example FROM "
        f"(SELECT exit_code, signature, sum(count) AS n FROM errors WHERE {RANGE_SQL}{where} "
        "GROUP BY exit_code, signature) AS c "
        "LEFT JOIN (SELECT exit_code, signature, argMax(step, seen) AS step, argMax(type, seen) AS type, "
        "argMax(example, seen) AS example FROM error_examples GROUP BY exit_code, signature) AS e "
        "ON c.exit_code = e.exit_code AND c.signature = e.signature "
        "ORDER BY c.exit_code, c.n DESC, c.signature LIMIT {per_code:UInt32} BY c.exit_code LIMIT {limit:UInt32}"
    )
    names = ("exit_code", "signature", "count", "step", "type", "example")
    return [dict(zip(names, row)) for row in store.rows(sql, params)]
