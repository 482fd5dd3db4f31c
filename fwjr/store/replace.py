"""A replay's atomic range replace: `agg` and `errors` of a range swapped together, so that no
reader and no crash sees one table replaced and the other not (see RangeReplace, docs/replay.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa

from fwjr.store.connection import Store
from fwjr.store.schema import AGG_COLUMNS, ERROR_COLUMNS, REPLACED_TABLES
from fwjr.store.sql import RANGE_SQL

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
        count. The range should be aligned to what the store holds there (batch.range),
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
        self.removed[table] = self.store.rows(f"SELECT count() FROM {table} WHERE {RANGE_SQL}", self.params)[0][0]
        self.store.command(f"DROP TABLE IF EXISTS {staging}")
        self.store.command(f"CREATE TABLE {staging} AS {table}")
        # A merge of its parts would be wasted CPU, and its DROP waited for that merge
        # (2.6 of 8.9 s for a day of minute rows).
        self.store.command(f"SYSTEM STOP MERGES {staging}")
        self.store.command(
            f"INSERT INTO {staging} SELECT * FROM {table} "
            f"WHERE _partition_id IN {{partitions:Array(String)}} AND NOT ({RANGE_SQL})",
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
