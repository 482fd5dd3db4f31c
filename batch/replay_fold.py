"""What each Spark task runs: JSON documents in, partial aggregate rows out.

The work per FWJR is the stream's and `fwjr aggregate`'s: fwjr.reader.to_job (the one merge)
and fwjr.aggregate.Aggregator (the one bucketing and summing). A task folds its whole
partition into one Aggregator and emits its rows once, so what crosses back into the JVM is
partial sums, not one row per job; Spark then adds the partials of all tasks with GROUP BY + SUM.

Every output row has one shape (FOLD_SCHEMA), told apart by `kind`:
  agg   an aggregate row: bucket, scope, VALUE_COLUMNS
  err   an error count: bucket, workflow, task, step, site, exit_code; the count in `jobs`
  rej   rejected documents of one reason: `reason`, a sample message in `detail`, count in `jobs`
  stat  a counter (`reason` = documents | outside range | duplicates), its value in `jobs`
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa

from fwjr.aggregate import VALUE_COLUMNS, Aggregator
from fwjr.model import SCOPE_KEYS, Rejection
from fwjr.reader import decode_json, to_job

DOC = "doc"
FILE = "file"
KEY_COLUMNS: tuple[str, ...] = ("kind", "bucket") + SCOPE_KEYS + ("step", "reason")
STAT_DOCUMENTS = "documents"
STAT_OUTSIDE = "outside range"
STAT_DUPLICATES = "duplicates"

_ARROW_TYPES: dict[str, pa.DataType] = {"bucket": pa.int64(), "exit_code": pa.int32()}


def fold_schema() -> pa.Schema:
    """The Arrow schema of every task's output (strings, an int32 exit code, int64 values)."""
    fields = [pa.field(name, _ARROW_TYPES.get(name, pa.string())) for name in KEY_COLUMNS]
    fields.append(pa.field("detail", pa.string()))
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

    def add(self, text: str | None, source: str) -> None:
        """Merge one document and count it, or count why not."""
        self.stats[STAT_DOCUMENTS] += 1
        job = to_job(source, decode_json(text.encode() if text is not None else b"", source))
        if type(job) is Rejection:
            self.rejects[job.reason] += 1
            self.samples.setdefault(job.reason, job.message())
            return
        if not self.start <= job.ts < self.end:
            self.stats[STAT_OUTSIDE] += 1
            return
        if not self.aggregator.add(job):
            self.stats[STAT_DUPLICATES] += 1

    def output(self) -> pa.RecordBatch:
        """Everything folded so far as one record batch in FOLD_SCHEMA."""
        schema = fold_schema()
        columns: dict[str, list[Any]] = {name: [] for name in schema.names}
        for key, vector in self.aggregator.rows.items():
            _append(columns, "agg", dict(zip(("bucket",) + SCOPE_KEYS, key)), vector)
        for (bucket, workflow, task, step, site, exit_code), count in self.aggregator.errors.items():
            keys = {"bucket": bucket, "workflow": workflow, "task": task, "step": step, "site": site, "exit_code": exit_code}
            _append(columns, "err", keys, [count])
        for reason, count in self.rejects.items():
            _append(columns, "rej", {"reason": reason, "detail": self.samples[reason]}, [count])
        for name, count in self.stats.items():
            _append(columns, "stat", {"reason": name}, [count])
        return pa.RecordBatch.from_pydict(columns, schema=schema)


def _append(columns: dict[str, list[Any]], kind: str, keys: dict[str, Any], values: list[int]) -> None:
    """One output row: absent keys are "" (0 for numbers), absent values 0, so GROUP BY never meets a null."""
    columns["kind"].append(kind)
    for name in KEY_COLUMNS[1:] + ("detail",):
        default = 0 if name in _ARROW_TYPES else ""
        columns[name].append(keys.get(name, default))
    for index, name in enumerate(VALUE_COLUMNS):
        columns[name].append(values[index] if index < len(values) else 0)


def fold_partition(
    batches: Iterator[pa.RecordBatch], start: int, end: int, precision: str, counted: Callable[[int, int], None] | None = None
) -> Iterator[pa.RecordBatch]:
    """mapInArrow body: batches of (doc, file) rows in, one batch of partial rows out.

    `counted(documents, rejected)` is called after each input batch with that batch's counts
    (the replay feeds them to Spark accumulators for its progress bar).
    """
    fold = PartitionFold(start, end, precision)
    for batch in batches:
        texts = batch.column(DOC).to_pylist()
        files = batch.column(FILE).to_pylist()
        rejected_before = sum(fold.rejects.values())
        for text, source in zip(texts, files):
            fold.add(text, source)
        if counted is not None:
            counted(len(texts), sum(fold.rejects.values()) - rejected_before)
    yield fold.output()
