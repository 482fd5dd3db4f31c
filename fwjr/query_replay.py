"""The query layer's replay part: replacing a time range of the bucketed tables in one step.

Kept beside fwjr/query.py (same rules: identifiers from whitelists, values bound) so the
replay's statements sit in one place.

How a range is replaced so that readers never see it half-done (neither missing nor counted
twice): the tables are partitioned by month, and `ALTER TABLE ... REPLACE PARTITION` swaps
whole partitions in one step. For each month the range touches, a staging table (created
`AS` the live table, so structure, keys and partitioning match) receives
  - the partition's rows OUTSIDE the range, copied as stored (rolled-up rows and batch ids kept),
  - the replay's rows for the range;
then one ALTER replaces every touched partition of the live table from the staging table.

Live writers in the same process (the stream worker of the local default) share the Store,
whose lock is held from the copy to the swap: no live insert can fall between them and be lost.
Writers in other processes (several workers on a ClickHouse server) are not stopped by it;
rows they insert into a touched month during those seconds would be replaced away.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa

from fwjr.model import ERROR_KEYS, SCOPE_KEYS
from fwjr.query import AGG_COLUMNS, ERROR_COLUMNS, VALUE_COLUMNS
from fwjr.store import Store

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


def replace_range(store: Store, start: int, end: int, aggregates: pa.Table, errors: pa.Table, batch: str) -> ReplaceSummary:
    """Make the range [start, end) of `agg` and `errors` hold exactly these rows, in one step per table.

    `aggregates`: bucket (epoch s), SCOPE_KEYS, value columns; `errors`: bucket, ERROR_KEYS, count.
    Rows outside the range are refused. The range should be aligned to what the store holds
    there (see fwjr.replay_range), or a rolled-up row across an edge is kept whole.
    """
    incoming = {"agg": _with_batch(aggregates, batch, AGG_COLUMNS), "errors": _with_batch(errors, batch, ERROR_COLUMNS)}
    for table, rows in incoming.items():
        _check_inside(table, rows, start, end)
    partitions = month_partitions(start, end)
    params = {"start": int(start), "end": int(end), "partitions": partitions}
    removed: dict[str, int] = {}
    with store._lock:  # one holder from the copy to the swap: see the module docstring
        for table, (staging, _) in REPLACED_TABLES.items():
            removed[table] = store.rows(f"SELECT count() FROM {table} WHERE {_IN_RANGE}", params)[0][0]
            store.command(f"DROP TABLE IF EXISTS {staging}")
            store.command(f"CREATE TABLE {staging} AS {table}")
            store.command(
                f"INSERT INTO {staging} SELECT * FROM {table} "
                f"WHERE _partition_id IN {{partitions:Array(String)}} AND NOT ({_IN_RANGE})",
                params,
            )
            if incoming[table].num_rows:
                store.client.insert_arrow(staging, incoming[table])
            swaps = ", ".join(f"REPLACE PARTITION ID {{p{i}:String}} FROM {staging}" for i in range(len(partitions)))
            store.command(
                f"ALTER TABLE {table} {swaps}",
                {f"p{i}": partition for i, partition in enumerate(partitions)},
                settings=_REPLACE_SETTINGS,
            )
            store.command(f"DROP TABLE IF EXISTS {staging}")
    buckets = len(set(incoming["agg"].column("bucket").to_pylist()) | set(incoming["errors"].column("bucket").to_pylist()))
    written = {table: rows.num_rows for table, rows in incoming.items()}
    return ReplaceSummary(start, end, partitions, removed, written, buckets, batch)


def _with_batch(rows: pa.Table, batch: str, columns: tuple[str, ...]) -> pa.Table:
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
