"""Writing a batch to the store so that a crash at any moment neither loses nor doubles a job.

The pattern is the one Quix Streams' checkpoints and Kafka Connect sinks use: the
rows of a batch go in first, tagged with their batch id; then one insert into
`ingest_batches` marks the batch committed (a single-part insert: atomic); only then
are Kafka offsets committed. On start the worker deletes rows of batches that have no
marker (debris of a crash between the two steps), skips offsets already marked, and
reloads the identities it had counted, so redelivered messages count once.

The rows are built in the worker's helper process (streams/helper.py) by `store_tables`;
the store-owning process only inserts them, in order, with `StoreSink.write`.
"""

from __future__ import annotations

import time

import orjson
import pyarrow as pa

from fwjr import query
from fwjr.aggregate import ERROR_COLUMNS, ROW_COLUMNS
from fwjr.bucket import bucket_start
from fwjr.model import Job
from fwjr.store import Store
from streams.pipeline import DeadLetter, Flush, reason_label

JOB_COLUMNS: tuple[str, ...] = (
    "identity", "ts", "workflow", "task", "site", "host", "jobtype", "jobstate", "exit_code",
    "exit_step", "acquisition_era", "campaign", "wn_name", "fwjr_id", "agent_ver", "failed",
    "wall_time", "cpu_efficiency", "core_hours", "error_type", "error_details", "errors",
    "log_archive", "batch", "src_partition", "src_offset",
)
LEDGER_COLUMNS: tuple[str, ...] = ("batch", "topic", "partition", "last_offset")
_JOB_DETAILS_LIMIT = 2000

# (table, column names, the rows as an Arrow IPC stream): one insert.
TableInsert = tuple[str, tuple[str, ...], bytes]
# Columns that may be all null in a batch, where Arrow could not infer their type.
_ARROW_TYPES = {"cpu_efficiency": pa.float64()}


def job_row(job: Job, batch: str, partition: int, offset: int) -> list:
    """One `jobs` row: what an operator needs to drill down to a failed job."""
    first = job.errors[0] if job.errors else None
    return [
        job.identity, job.ts, job.workflow, job.task, job.site, job.host, job.jobtype, job.jobstate,
        job.exit_code, job.exit_step, job.acquisition_era, job.campaign, job.wn_name, job.fwjr_id,
        job.agent_ver, int(job.failed), job.metrics.get("wall_time", 0.0), job.cpu_efficiency,
        job.metrics.get("core_hours", 0.0), first.type if first else "",
        first.details[:_JOB_DETAILS_LIMIT] if first else "",
        orjson.dumps([[e.step, e.exit_code, e.type, e.details[:_JOB_DETAILS_LIMIT]] for e in job.errors]).decode(),
        job.log_archive, batch, partition, offset,
    ]


def _arrow_stream(columns: tuple[str, ...], rows: list[list]) -> bytes:
    """Rows as an Arrow IPC stream: built in the helper, so the store owner only hands bytes over."""
    table = pa.table(
        {name: pa.array(values, type=_ARROW_TYPES.get(name)) for name, values in zip(columns, zip(*rows))}
    )
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _dlq_rows(dead: list[DeadLetter], batch: str) -> list[list]:
    counts: dict[tuple[int, str], int] = {}
    minute = bucket_start(int(time.time()), "minute")
    for letter in dead:
        key = (minute, reason_label(letter.rejection))
        counts[key] = counts.get(key, 0) + 1
    return [[bucket, reason, count, batch] for (bucket, reason), count in counts.items()]


def store_tables(flush: Flush) -> list[TableInsert]:
    """Every insert a flush needs, in the order that makes a crash harmless: rows, then the ledger marker."""
    agg, errors, jobs, dlq = [], [], [], []
    for part in flush.partitions:
        for key, vector in part.aggregator.rows.items():
            agg.append(list(key) + vector + [part.batch])
        for key, count in part.aggregator.errors.items():
            errors.append(list(key) + [count, part.batch])
        for job, offset in part.jobs:
            jobs.append(job_row(job, part.batch, part.partition, offset))
        dlq.extend(_dlq_rows(part.dead, part.batch))
    inserts = [
        (table, columns, _arrow_stream(columns, rows))
        for table, columns, rows in (
            ("agg", ROW_COLUMNS + ("batch",), agg),
            ("errors", ERROR_COLUMNS + ("batch",), errors),
            ("jobs", JOB_COLUMNS, jobs),
            ("dlq_counts", ("bucket", "reason", "count", "batch"), dlq),
        )
        if rows
    ]
    marks = [[p.batch, p.topic, p.partition, p.last_offset] for p in flush.partitions]
    if marks:
        inserts.append(("ingest_batches", LEDGER_COLUMNS, _arrow_stream(LEDGER_COLUMNS, marks)))
    return inserts


class StoreSink:
    """The worker's only path to the store, batch by batch."""

    def __init__(self, store: Store, dedupe_days: int) -> None:
        self.store = store
        self.dedupe_days = dedupe_days

    def recover(self, topic: str, partitions: list[int]) -> tuple[dict[tuple[str, int], int], set[str]]:
        """Clean up a crashed write of these partitions; return where they resume and who was counted."""
        query.delete_uncommitted(self.store, topic, partitions)
        committed = {(topic, p): offset for p, offset in query.committed_offsets(self.store, topic).items()}
        seen = query.recent_identities(self.store, int(time.time()) - self.dedupe_days * 86400)
        return committed, seen

    def write(self, inserts: list[TableInsert]) -> None:
        """The inserts in their order (store_tables puts the ledger marker last)."""
        for table, columns, stream in inserts:
            self.store.insert_arrow_stream(table, columns, stream)
