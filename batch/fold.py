"""What each Spark task runs: archive records in, partial aggregate rows out.

Records arrive as Arrow batches of nested structs (spark-avro's decode) and become the
dicts the merge takes, the same dicts a fastavro decode gives (batch.arrow_records).

The work per FWJR is the stream's and `fwjr aggregate`'s: fwjr.reader.to_job (the one merge)
and fwjr.aggregate.Aggregator (the one bucketing and summing). A task folds its whole
partition into one Aggregator and emits its rows once, so what crosses back into the JVM is
partial sums, not one row per job; Spark then adds the partials of all tasks with GROUP BY + SUM.

Every output row has one shape (FOLD_SCHEMA), told apart by `kind`:
  agg   an aggregate row: bucket, scope, VALUE_COLUMNS
  err   an error count: bucket, ERROR_KEYS; the count in `jobs`
  rej   rejected documents of one reason: `reason`, a sample message in `detail`, count in `jobs`
  stat  a counter (`reason` = documents | outside range | duplicates), its value in `jobs`
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator

import pyarrow as pa

from batch.arrow_records import records_converter
from fwjr.aggregate import VALUE_COLUMNS, Aggregator
from fwjr.gcpause import collector_paused
from fwjr.model import ERROR_KEYS, SCOPE_KEYS, Rejection
from fwjr.reader import Document, to_job

FILE = "file"
KEY_COLUMNS: tuple[str, ...] = ("kind", "bucket") + SCOPE_KEYS + tuple(k for k in ERROR_KEYS if k not in SCOPE_KEYS) + ("reason", "detail")
STAT_DOCUMENTS = "documents"
STAT_OUTSIDE = "outside range"
STAT_DUPLICATES = "duplicates"

_ARROW_TYPES: dict[str, pa.DataType] = {"bucket": pa.int64(), "exit_code": pa.int32(), "retry_count": pa.int32()}


def fold_schema() -> pa.Schema:
    """The Arrow schema of every task's output (strings, an int32 exit code, int64 values)."""
    fields = [pa.field(name, _ARROW_TYPES.get(name, pa.string())) for name in KEY_COLUMNS]
    fields.extend(pa.field(name, pa.int64()) for name in VALUE_COLUMNS)
    return pa.schema(fields)


def fold_ddl() -> str:
    """FOLD_SCHEMA as the DDL string mapInArrow takes."""
    spark_types = {pa.int64(): "bigint", pa.int32(): "int", pa.string(): "string"}
    return ", ".join(f"`{f.name}` {spark_types[f.type]}" for f in fold_schema())


class PartitionFold:
    """Folds one task's documents; identities are deduplicated inside the task, which is
    enough because the replay routes every copy of an identity to the same task."""

    def __init__(self, start: int, end: int, precision: str) -> None:
        self.start = start
        self.end = end
        self.aggregator = Aggregator(precision)
        self.stats: Counter[str] = Counter()
        self.rejects: Counter[str] = Counter()
        self.samples: dict[str, str] = {}

    def add(self, doc: Document, source: str) -> None:
        """Merge one document and count it, or count why not."""
        self.stats[STAT_DOCUMENTS] += 1
        job = to_job(source, doc)
        if type(job) is Rejection:
            self.rejects[job.reason] += 1
            self.samples.setdefault(job.reason, job.message())
            return
        if not self.start <= job.ts < self.end:
            self.stats[STAT_OUTSIDE] += 1
            return
        if not self.aggregator.add(job):
            self.stats[STAT_DUPLICATES] += 1

    def output(self) -> list[pa.RecordBatch]:
        """Everything folded so far, one record batch in FOLD_SCHEMA per kind that has rows."""
        aggregator = self.aggregator
        parts = [
            ("agg", ("bucket",) + SCOPE_KEYS, list(aggregator.rows), list(aggregator.rows.values())),
            ("err", ("bucket",) + ERROR_KEYS, list(aggregator.errors), [(n,) for n in aggregator.errors.values()]),
            ("rej", ("reason", "detail"), [(r, self.samples[r]) for r in self.rejects], [(n,) for n in self.rejects.values()]),
            ("stat", ("reason",), [(name,) for name in self.stats], [(n,) for n in self.stats.values()]),
        ]
        return [_batch(kind, names, keys, values) for kind, names, keys, values in parts if keys]


def _batch(kind: str, names: tuple[str, ...], keys: list[tuple], values: list) -> pa.RecordBatch:
    """Rows of one kind, built column by column: `keys` fill the columns `names`, `values` the
    first value columns; the other columns are "" (0 for numbers), so GROUP BY never meets a null."""
    schema = fold_schema()
    rows = len(keys)
    given = dict(zip(names, zip(*keys)))
    given["kind"] = [kind] * rows
    given.update(zip(VALUE_COLUMNS, zip(*values)))
    columns = []
    for field in schema:
        column = given.get(field.name)
        if column is None:
            column = [0 if pa.types.is_integer(field.type) else ""] * rows
        columns.append(pa.array(column, field.type))
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def fold_partition(
    batches: Iterator[pa.RecordBatch], start: int, end: int, precision: str, counted: Callable[[int, int], None] | None = None
) -> Iterator[pa.RecordBatch]:
    """mapInArrow body: batches of records (and their FILE) in, partial rows out (one batch per kind).

    `counted(documents, rejected)` is called after each input batch with that batch's counts
    (the replay feeds them to Spark accumulators for its progress bar).

    Python's cyclic garbage collector is paused while the task folds (fwjr.gcpause says why).
    """
    fold = PartitionFold(start, end, precision)
    convert: Callable[[pa.RecordBatch], list[dict]] | None = None
    with collector_paused():
        for batch in batches:
            files = batch.column(FILE).to_pylist()
            records = batch.drop_columns([FILE])
            if convert is None:
                convert = records_converter(records.schema)
            docs = convert(records)
            rejected_before = sum(fold.rejects.values())
            for doc, source in zip(docs, files):
                fold.add(doc, source)
            if counted is not None:
                counted(len(docs), sum(fold.rejects.values()) - rejected_before)
        output = fold.output()
    yield from output
