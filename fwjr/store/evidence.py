"""What the triage decision reads (fwjr/triage): jobs and failures per workflow, task and site,
inside and outside outage windows; site totals for the site status; error patterns with one
message each; the usual share of each exit code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fwjr.aggregate import MICRO
from fwjr.model import ERROR_KEYS, SCOPE_KEYS
from fwjr.store.connection import Store
from fwjr.store.sql import RANGE_SQL, filter_sql, projection_setting, range_params


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
    params = range_params(start, end)
    params.update({"starts": [int(s) for s, _ in windows], "ends": [int(e) for _, e in windows], "size": int(bucket_seconds)})
    where = filter_sql(filters, SCOPE_KEYS, params)
    inside = (
        "arrayExists((s, e) -> s < toUnixTimestamp(bucket) + {size:Int64} AND e > toUnixTimestamp(bucket), "
        "{starts:Array(Int64)}, {ends:Array(Int64)})"
    )
    reads = "sum(jobs) sum(failed) sum(wasted_core_hours_sum)"
    sql = (
        f"SELECT workflow, task, site, toUInt8({inside}) AS inside, sum(jobs), sum(failed), sum(wasted_core_hours_sum) / {MICRO} "
        f"FROM agg WHERE {RANGE_SQL}{where} GROUP BY workflow, task, site, inside ORDER BY workflow, task, site, inside"
        f"{projection_setting(('workflow', 'task', 'site'), filters, reads)}"
    )
    names = ("workflow", "task", "site", "inside", "jobs", "failed", "wasted_core_hours")
    return [dict(zip(names, row)) for row in store.rows(sql, params)]


def site_counts(store: Store, start: int, end: int, filters: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """(site, jobs, failed, cpu_hours, core_hours) per site over [start, end), most jobs first."""
    params = range_params(start, end)
    where = filter_sql(filters, SCOPE_KEYS, params)
    reads = "sum(jobs) sum(failed) sum(cpu_hours_sum) sum(core_hours_sum)"
    sql = (
        f"SELECT site, sum(jobs) AS j, sum(failed), sum(cpu_hours_sum) / {MICRO}, sum(core_hours_sum) / {MICRO} "
        f"FROM agg WHERE {RANGE_SQL}{where} GROUP BY site ORDER BY j DESC, site{projection_setting(('site',), filters, reads)}"
    )
    names = ("site", "jobs", "failed", "cpu_hours", "core_hours")
    return [dict(zip(names, row)) for row in store.rows(sql, params)]


def error_patterns(
    store: Store, start: int, end: int, filters: Mapping[str, Any] | None = None, limit: int = 200_000
) -> list[dict[str, Any]]:
    """Step errors per (workflow, task, step, site, exit_code, signature) over [start, end), with
    one stored message of the (exit_code, signature) ("" when none is kept), largest first."""
    params = range_params(start, end)
    params["limit"] = int(limit)
    where = filter_sql(filters, ERROR_KEYS, params)
    keys = "workflow, task, step, site, exit_code, signature"
    sql = (
        "SELECT c.workflow, c.task, c.step, c.site, c.exit_code, c.signature, c.n, e.example FROM "
        f"(SELECT {keys}, sum(count) AS n FROM errors WHERE {RANGE_SQL}{where} GROUP BY {keys}) AS c "
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
    params = range_params(start, end)
    where = filter_sql(filters, ERROR_KEYS, params)
    sql = (
        f"SELECT workflow, exit_code, site, step, sum(count) FROM errors WHERE {RANGE_SQL}{where} "
        "GROUP BY workflow, exit_code, site, step ORDER BY workflow, exit_code, site, step"
    )
    names = ("workflow", "exit_code", "site", "step", "count")
    return [dict(zip(names, row)) for row in store.rows(sql, params)]


def failing_workflows(store: Store, start: int, end: int, filters: Mapping[str, Any] | None = None) -> set[str]:
    """The workflows with failed jobs matching `filters` (scope keys) over [start, end): what a
    filter on a key the decisions do not carry selects (fwjr.triage.select)."""
    params = range_params(start, end)
    where = filter_sql(filters, SCOPE_KEYS, params)
    sql = (
        f"SELECT workflow FROM agg WHERE {RANGE_SQL}{where} GROUP BY workflow HAVING sum(failed) > 0"
        f"{projection_setting(('workflow',), filters, 'sum(failed)')}"
    )
    return {workflow for (workflow,) in store.rows(sql, params)}


def error_code_counts(store: Store, start: int, end: int) -> dict[int, int]:
    """Step errors per exit code over [start, end), all workflows: each code's usual rate."""
    sql = f"SELECT exit_code, sum(count) FROM errors WHERE {RANGE_SQL} GROUP BY exit_code ORDER BY exit_code"
    return {int(code): int(count) for code, count in store.rows(sql, range_params(start, end))}
