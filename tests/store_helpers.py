"""Store helpers only tests and benchmarks use: seeding rows, forcing merges, reading tables whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fwjr.aggregate import VALUE_COLUMNS
from fwjr.model import ERROR_KEYS, SCOPE_KEYS
from fwjr.store.connection import Store
from fwjr.store.job_reads import JOB_SEARCH, JOB_SELECT
from fwjr.store.replace import RANGE_SQL
from fwjr.store.schema import AGG_COLUMNS, BUCKETED_TABLES, DLQ_COLUMNS, ERROR_COLUMNS, JOB_COLUMNS, REPLACED_TABLES, TABLES
from fwjr.store.sql import BUCKET_SQL, align, filter_sql, range_params


def insert_aggregates(store: Store, rows: Iterable[Mapping[str, Any]], batch: str = "") -> int:
    """Insert aggregate-row dicts (any precision; minute at ingest), tagged with `batch`."""
    return store.insert_dicts("agg", (with_batch(r, batch) for r in rows), AGG_COLUMNS)


def insert_errors(store: Store, rows: Iterable[Mapping[str, Any]], batch: str = "") -> int:
    """Insert error-count dicts (bucket, ERROR_KEYS, count), tagged with `batch`."""
    return store.insert_dicts("errors", (with_batch(r, batch) for r in rows), ERROR_COLUMNS)


def insert_jobs(store: Store, rows: Iterable[Mapping[str, Any]], batch: str = "") -> int:
    """Insert job dicts (JOB_COLUMNS; src_partition/src_offset default to -1 outside the stream)."""
    defaults = {"src_partition": -1, "src_offset": -1}
    return store.insert_dicts("jobs", ({**defaults, **with_batch(r, batch)} for r in rows), JOB_COLUMNS)


def insert_dlq_counts(store: Store, rows: Iterable[Mapping[str, Any]], batch: str = "") -> int:
    """Insert dead-letter counts (bucket, reason, count), tagged with `batch`."""
    return store.insert_dicts("dlq_counts", (with_batch(r, batch) for r in rows), DLQ_COLUMNS)


def with_batch(row: Mapping[str, Any], batch: str) -> Mapping[str, Any]:
    return row if "batch" in row else {**row, "batch": batch}


def error_series(
    store: Store, start: int, end: int, precision: str, filters: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Error counts per bucket (all steps' errors), for lining failures up with outages."""
    first, stop = align(start, end, precision)
    params = range_params(first, stop)
    where = filter_sql(filters, ERROR_KEYS, params)
    sql = (
        f"SELECT toUnixTimestamp({BUCKET_SQL[precision]}) AS b, sum(count) FROM errors "
        f"WHERE {RANGE_SQL}{where} GROUP BY b ORDER BY b"
    )
    return [{"bucket": b, "count": c} for b, c in store.rows(sql, params)]


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
    params = {**range_params(start, end), "limit": int(limit)}
    where = filter_sql(filters, SCOPE_KEYS, params)
    if failed_only:
        where += " AND failed = 1"
    if search:
        params["search"] = search
        where += f" AND positionCaseInsensitiveUTF8({JOB_SEARCH}, {{search:String}}) > 0"
    sql = (
        f"SELECT {JOB_SELECT} FROM jobs "
        "WHERE ts >= toDateTime({start:Int64}, 'UTC') AND ts < toDateTime({end:Int64}, 'UTC')"
        f"{where} ORDER BY ts DESC, identity LIMIT 1 BY identity LIMIT {{limit:UInt32}}"
    )
    return [dict(zip(JOB_COLUMNS, row)) for row in store.rows(sql, params)]


def delete_range(store: Store, start: int, end: int, tables: Sequence[str] = BUCKETED_TABLES) -> None:
    """Delete the bucketed rows in [start, end) before a replay rebuilds that range.

    Align the range to the coarsest precision it is stored at (see `align`), or a rolled-up
    row straddling an edge is kept or dropped whole.
    """
    params = range_params(start, end)
    for table in tables:
        if table not in BUCKETED_TABLES:
            raise ValueError(f"delete_range: {table!r} is not one of {', '.join(BUCKETED_TABLES)}")
        store.command(f"ALTER TABLE {table} DELETE WHERE {RANGE_SQL}", params, settings={"mutations_sync": 2})


def optimize(store: Store, table: str) -> None:
    """Merge all parts of a table now, applying TTL rollups and deletes (tests, maintenance)."""
    if table not in TABLES:
        raise ValueError(f"optimize: unknown table {table!r}; expected one of {', '.join(TABLES)}")
    store.command(f"OPTIMIZE TABLE {table} FINAL")


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


def merges_in_progress(store: Store) -> int:
    """How many part merges (TTL rollups included) the engine is running now; benchmarks wait for 0."""
    return int(store.rows("SELECT count() FROM system.merges WHERE database = currentDatabase()")[0][0])


def row_count(store: Store, table: str) -> int:
    """Stored rows of a table, before any re-aggregation (benchmarks report store sizes)."""
    if table not in TABLES:
        raise ValueError(f"row_count: unknown table {table!r}; expected one of {', '.join(TABLES)}")
    return int(store.rows(f"SELECT count() FROM {table}")[0][0])


def stored_rows(store: Store, table: str, start: int, end: int) -> list[tuple]:
    """The range's rows of `agg` or `errors` re-summed per stored bucket and keys, batch ids left
    out, sorted: what a replay of the range must reproduce (and what tests compare)."""
    if table not in REPLACED_TABLES:
        raise ValueError(f"stored_rows: {table!r} is not one of {', '.join(REPLACED_TABLES)}")
    keys = ", ".join(("toUnixTimestamp(bucket) AS b",) + (SCOPE_KEYS if table == "agg" else ERROR_KEYS))
    order = ", ".join(("b",) + (SCOPE_KEYS if table == "agg" else ERROR_KEYS))
    values = ", ".join(f"sum({c})" for c in (VALUE_COLUMNS if table == "agg" else ("count",)))
    sql = f"SELECT {keys}, {values} FROM {table} WHERE {RANGE_SQL} GROUP BY {order} ORDER BY {order}"
    return store.rows(sql, {"start": int(start), "end": int(end)})


def table_rows(store: Store, table: str) -> list[tuple]:
    """Every row of `agg` or `errors` exactly as stored (bucket as epoch seconds, batch last), sorted:
    two replays of one range must leave these identical."""
    if table not in REPLACED_TABLES:
        raise ValueError(f"table_rows: {table!r} is not one of {', '.join(REPLACED_TABLES)}")
    columns = ", ".join("toUnixTimestamp(bucket)" if c == "bucket" else c for c in REPLACED_TABLES[table][1])
    return sorted(tuple(row) for row in store.rows(f"SELECT {columns} FROM {table}"))
