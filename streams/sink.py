"""The rows a batch writes to the store, built in the worker's helper process.

`store_tables` turns a processed batch (a Flush) into the inserts of the commit protocol
(streams/checkpoint.py): the rows of every table, tagged with the batch id of their partition,
then one ledger marker. They are encoded as Arrow IPC streams here, in the helper, so the
store-owning process only hands bytes to the store.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain

import msgspec
import numpy as np
import pyarrow as pa

from fwjr.aggregate import VALUE_COLUMNS
from fwjr.bucket import bucket_start
from fwjr.model import Job
from fwjr.store.schema import AGG_COLUMNS, DLQ_COLUMNS, ERROR_COLUMNS, EXAMPLE_COLUMNS, JOB_COLUMNS
from streams.pipeline import DeadLetter, Flush

LEDGER_COLUMNS: tuple[str, ...] = ("batch", "topic", "partition", "last_offset")
_JOB_DETAILS_LIMIT = 2000
# Characters of a message kept as its signature's example (the drill-down has the whole text).
_EXAMPLE_LIMIT = 4000

# (table, column names, the rows as an Arrow IPC stream): one insert.
TableInsert = tuple[str, tuple[str, ...], bytes]
# One ledger mark: (batch id, topic, partition, last offset of the batch in that partition).
LedgerMark = tuple[str, str, int, int]
# The Arrow type of every stored column that is not text. Given, not inferred: inference
# costs a fifth of the conversion, and an all-null column (cpu_efficiency) has nothing to infer from.
_INTEGER_COLUMNS = (
    "bucket", "ts", "exit_code", "retry_count", "count", "failed", "src_partition", "src_offset", "partition", "last_offset", "seen",
)
_ARROW_TYPES: dict[str, pa.DataType] = {name: pa.int64() for name in _INTEGER_COLUMNS} | {
    name: pa.float64() for name in ("wall_time", "cpu_efficiency", "core_hours")
}
Column = list | pa.Array
_error_encoder = msgspec.json.Encoder()


def job_columns(jobs: list[Job], batches: list[str], partitions: list[int], offsets: list[int]) -> list[list]:
    """The `jobs` rows of these jobs as columns in JOB_COLUMNS order: what an operator needs to
    drill down to a failed job. Built a column at a time, since the store takes columns and a
    batch has ~10,000 jobs; `job_row` is the one-row view of the same contract."""
    firsts = [job.errors[0] if job.errors else None for job in jobs]
    return [
        [job.identity for job in jobs],
        [job.ts for job in jobs],
        [job.workflow for job in jobs],
        [job.task for job in jobs],
        [job.site for job in jobs],
        [job.host for job in jobs],
        [job.jobtype for job in jobs],
        [job.jobstate for job in jobs],
        [job.exit_code for job in jobs],
        [job.exit_step for job in jobs],
        [job.acquisition_era for job in jobs],
        [job.campaign for job in jobs],
        [job.wn_name for job in jobs],
        [job.fwjr_id for job in jobs],
        [job.agent_ver for job in jobs],
        [job.retry_count for job in jobs],
        [int(job.failed) for job in jobs],
        [job.metrics.get("wall_time", 0.0) for job in jobs],
        [job.cpu_efficiency for job in jobs],
        [job.metrics.get("core_hours", 0.0) for job in jobs],
        [first.type if first else "" for first in firsts],
        [first.details[:_JOB_DETAILS_LIMIT] if first else "" for first in firsts],
        [_errors_text(job) for job in jobs],
        [job.log_archive for job in jobs],
        batches,
        partitions,
        offsets,
    ]


def job_row(job: Job, batch: str, partition: int, offset: int) -> list:
    """One `jobs` row (JOB_COLUMNS order), for callers that insert rows one by one."""
    return [column[0] for column in job_columns([job], [batch], [partition], [offset])]


def _errors_text(job: Job) -> str:
    """Every error of the job as JSON `[{step, exit_code, type, signature, details}, ...]`, details
    as the merge kept them (head and tail of a long log tail)."""
    if not job.errors:
        return "[]"
    return _error_encoder.encode(job.errors).decode()


def example_columns(jobs: list[Job]) -> list[list]:
    """One example message per (exit code, signature) of these jobs, the latest job's, as the
    columns of EXAMPLE_COLUMNS."""
    latest: dict[tuple[int, str], tuple[int, str, str, str]] = {}
    for job in jobs:
        for error in job.errors:
            if error.signature:
                latest[(error.exit_code, error.signature)] = (job.ts, error.step, error.type, error.details)
    rows = [[code, sig, step, kind, details[:_EXAMPLE_LIMIT], ts] for (code, sig), (ts, step, kind, details) in latest.items()]
    return _transposed(rows)


def _transposed(rows: list) -> list[list]:
    """Rows turned into columns, the shape Arrow and the store take."""
    return [list(column) for column in zip(*rows)]


def _integer_columns(vectors: list[list[int]], width: int) -> list[pa.Array]:
    """Int64 columns of equal-length integer vectors (the aggregate values).

    One numpy block filled from the flattened vectors and sliced per column costs a sixth
    of building each column from Python ints (~70 columns x 10,000 rows per batch). A sum
    beyond Int64 raises OverflowError here, as pyarrow would.
    """
    block = np.fromiter(chain.from_iterable(vectors), dtype=np.int64, count=len(vectors) * width)
    block = block.reshape(len(vectors), width)
    return [pa.array(block[:, index]) for index in range(width)]


def _arrow_stream(names: tuple[str, ...], columns: list[Column]) -> bytes:
    """Columns as an Arrow IPC stream: built in the helper, so the store owner only hands bytes over."""
    arrays = [
        column if isinstance(column, pa.Array) else pa.array(column, type=_ARROW_TYPES.get(name, pa.string()))
        for name, column in zip(names, columns)
    ]
    table = pa.Table.from_arrays(arrays, names=list(names))
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _dlq_counts(dead: list[DeadLetter], batch: str, counts: dict[tuple[int, str, str], int]) -> None:
    minute = bucket_start(int(time.time()), "minute")
    for letter in dead:
        key = (minute, letter.rejection.label(), batch)
        counts[key] = counts.get(key, 0) + 1


@dataclass(slots=True)
class BatchWrite:
    """Everything the store gets for one batch, in commit order: `rows` (one insert per table,
    each row tagged with its partition's batch id), then `ledger`, the marker that makes the
    batch committed. `batches` are the ids the rows carry (what a failed attempt must undo)."""

    rows: list[TableInsert]
    ledger: TableInsert | None
    batches: list[str]


def ledger_insert(marks: Sequence[LedgerMark]) -> TableInsert:
    """The `ingest_batches` insert marking these batches committed: one row per partition."""
    return ("ingest_batches", LEDGER_COLUMNS, _arrow_stream(LEDGER_COLUMNS, _transposed(list(marks))))


def store_tables(flush: Flush) -> BatchWrite:
    """Every insert a flush needs, in the order that makes a crash harmless: rows, then the ledger marker."""
    agg_keys: list[tuple] = []
    agg_values: list[list[int]] = []
    agg_batches: list[str] = []
    error_rows: list[tuple] = []
    jobs: list[Job] = []
    job_batches: list[str] = []
    job_partitions: list[int] = []
    job_offsets: list[int] = []
    dlq: dict[tuple[int, str, str], int] = {}
    for part in flush.partitions:
        rows = part.aggregator.rows
        agg_keys.extend(rows)
        agg_values.extend(rows.values())
        agg_batches.extend([part.batch] * len(rows))
        error_rows.extend(key + (count, part.batch) for key, count in part.aggregator.errors.items())
        jobs.extend(job for job, _ in part.jobs)
        job_batches.extend([part.batch] * len(part.jobs))
        job_partitions.extend([part.partition] * len(part.jobs))
        job_offsets.extend(offset for _, offset in part.jobs)
        _dlq_counts(part.dead, part.batch, dlq)
    inserts: list[TableInsert] = []
    if agg_keys:
        agg = [*_transposed(agg_keys), *_integer_columns(agg_values, len(VALUE_COLUMNS)), agg_batches]
        inserts.append(("agg", AGG_COLUMNS, _arrow_stream(AGG_COLUMNS, agg)))
    if error_rows:
        inserts.append(("errors", ERROR_COLUMNS, _arrow_stream(ERROR_COLUMNS, _transposed(error_rows))))
    if jobs:
        columns = job_columns(jobs, job_batches, job_partitions, job_offsets)
        inserts.append(("jobs", JOB_COLUMNS, _arrow_stream(JOB_COLUMNS, columns)))
        examples = example_columns(jobs)
        if examples:
            inserts.append(("error_examples", EXAMPLE_COLUMNS, _arrow_stream(EXAMPLE_COLUMNS, examples)))
    if dlq:
        rows = [key + (count,) for key, count in dlq.items()]
        bucket, reason, batch, count = _transposed(rows)
        inserts.append(("dlq_counts", DLQ_COLUMNS, _arrow_stream(DLQ_COLUMNS, [bucket, reason, count, batch])))
    marks = [(p.batch, p.topic, p.partition, p.last_offset) for p in flush.partitions]
    return BatchWrite(inserts, ledger_insert(marks) if marks else None, [p.batch for p in flush.partitions])
