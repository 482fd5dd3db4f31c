"""Service status events, the outage windows derived from them, planned maintenance, alert
history and rejected status events (sql/0010-0013), and the per-minute failure counts the
correlation reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fwjr.bucket import check_precision
from fwjr.model import SCOPE_KEYS
from fwjr.store.connection import Store
from fwjr.store.schema import ALERT_COLUMNS, MAINTENANCE_COLUMNS, OUTAGE_COLUMNS, SERVICE_EVENT_COLUMNS
from fwjr.store.sql import BUCKET_SQL, RANGE_SQL, filter_sql, projection_setting, range_params


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
    params = range_params(start, end)
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
    return [dict(zip(names, row)) for row in store.rows(sql, range_params(start, end))]


def service_events(store: Store, start: int, end: int, service: str | None = None) -> list[dict[str, Any]]:
    """Status events in [start, end), oldest first, each once."""
    params = range_params(start, end)
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
    sql = f"SELECT reason, sum(count) FROM status_rejects WHERE {RANGE_SQL} GROUP BY reason ORDER BY reason"
    return {reason: count for reason, count in store.rows(sql, range_params(start, end))}


def failure_counts(
    store: Store, start: int, end: int, precision: str = "minute", filters: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """(bucket, site, exit_code, jobs, failed) per bucket of `precision`, for correlating with outages."""
    check_precision(precision)
    params = range_params(start, end)
    where = filter_sql(filters, SCOPE_KEYS, params)
    sql = (
        f"SELECT toUnixTimestamp({BUCKET_SQL[precision]}) AS b, site, exit_code, sum(jobs), sum(failed) FROM agg "
        f"WHERE {RANGE_SQL}{where} GROUP BY b, site, exit_code ORDER BY b, site, exit_code{projection_setting(('site', 'exit_code'), filters)}"
    )
    names = ("bucket", "site", "exit_code", "jobs", "failed")
    return [dict(zip(names, row)) for row in store.rows(sql, params)]
