"""The store inserts the helper builds column by column hold exactly the rows of the row contracts.

streams.sink.store_tables builds every insert as Arrow columns (numpy for the aggregate
values) rather than row lists; these tests read the IPC streams back and compare them
with rows written out plainly from the flush, types included.
"""

from __future__ import annotations

import orjson
import pyarrow as pa
import pytest

from fwjr.aggregate import ERROR_ROW_COLUMNS, ROW_COLUMNS
from fwjr.kafka.publish import message_key
from fwjr.store.schema import JOB_COLUMNS
from fwjr.synth import generate_documents
from streams.pipeline import Flush, Message, Pipeline
from streams.sink import LEDGER_COLUMNS, job_row, store_tables


def _flush() -> Flush:
    messages = []
    for offset, doc in enumerate(generate_documents(1200, 17, malformed_share=0.03, duplicate_share=0.05)):
        value = doc if isinstance(doc, bytes) else orjson.dumps(doc)
        key = message_key(doc) if isinstance(doc, dict) else None
        messages.append(Message("fwjr.raw", offset % 3, offset // 3, value, None, key))
    return Pipeline().process(messages)


@pytest.fixture(scope="module")
def flush_and_tables() -> tuple[Flush, dict[str, pa.Table]]:
    flush = _flush()
    write = store_tables(flush)
    assert write.batches == [p.batch for p in flush.partitions]
    tables = {}
    for table, columns, stream in write.rows + [write.ledger]:
        read = pa.ipc.open_stream(stream).read_all()
        assert tuple(read.column_names) == columns
        tables[table] = read
    return flush, tables


def _rows(table: pa.Table) -> list[list]:
    return [list(row.values()) for row in table.to_pylist()]


def _job_contract(job, batch: str, partition: int, offset: int) -> list:
    first = job.errors[0] if job.errors else None
    errors = [{"step": e.step, "exit_code": e.exit_code, "type": e.type, "details": e.details, "signature": e.signature}
              for e in job.errors]
    return [
        job.identity, job.ts, job.workflow, job.task, job.site, job.host, job.jobtype, job.jobstate,
        job.exit_code, job.exit_step, job.acquisition_era, job.campaign, job.wn_name, job.fwjr_id,
        job.agent_ver, job.retry_count, int(job.failed), job.metrics.get("wall_time", 0.0), job.cpu_efficiency,
        job.metrics.get("core_hours", 0.0), first.type if first else "",
        first.details[:2000] if first else "", orjson.dumps(errors).decode(), job.log_archive,
        batch, partition, offset,
    ]


def test_every_table_of_a_mixed_flush_is_written(flush_and_tables) -> None:
    flush, tables = flush_and_tables
    assert len(flush.partitions) == 3
    assert all(part.dead for part in flush.partitions) and flush.duplicates > 0
    assert list(tables) == ["agg", "errors", "jobs", "error_examples", "dlq_counts", "ingest_batches"]


def test_aggregate_and_error_rows_are_the_aggregators_rows(flush_and_tables) -> None:
    flush, tables = flush_and_tables
    agg = [list(key) + vector + [p.batch] for p in flush.partitions for key, vector in p.aggregator.rows.items()]
    errors = [list(key) + [n, p.batch] for p in flush.partitions for key, n in p.aggregator.errors.items()]
    assert _rows(tables["agg"]) == agg
    assert _rows(tables["errors"]) == errors
    assert tables["agg"].column_names == [*ROW_COLUMNS, "batch"]
    assert tables["errors"].column_names == [*ERROR_ROW_COLUMNS, "batch"]
    types = {field.name: field.type for field in tables["agg"].schema}
    assert types["bucket"] == types["exit_code"] == types["jobs"] == types["TotalJobCPU_sum"] == pa.int64()
    assert types["workflow"] == types["batch"] == pa.string()


def test_job_rows_follow_the_row_contract(flush_and_tables) -> None:
    flush, tables = flush_and_tables
    expected = [_job_contract(job, p.batch, p.partition, offset) for p in flush.partitions for job, offset in p.jobs]
    assert _rows(tables["jobs"]) == expected
    assert [job_row(job, p.batch, p.partition, offset) for p in flush.partitions for job, offset in p.jobs] == expected
    types = {field.name: field.type for field in tables["jobs"].schema}
    assert (types["ts"], types["failed"], types["cpu_efficiency"], types["errors"]) == (
        pa.int64(), pa.int64(), pa.float64(), pa.string()
    )
    assert tables["jobs"].column_names == list(JOB_COLUMNS)


def test_dead_letters_are_counted_per_batch_and_the_ledger_comes_last(flush_and_tables) -> None:
    flush, tables = flush_and_tables
    counts: dict[str, int] = {}
    for row in tables["dlq_counts"].to_pylist():
        counts[row["batch"]] = counts.get(row["batch"], 0) + row["count"]
    assert counts == {p.batch: len(p.dead) for p in flush.partitions}
    assert _rows(tables["ingest_batches"]) == [[p.batch, p.topic, p.partition, p.last_offset] for p in flush.partitions]
    assert tables["ingest_batches"].column_names == list(LEDGER_COLUMNS)


def test_a_flush_of_only_rejects_writes_no_rows_but_the_ledger() -> None:
    flush = Pipeline().process([Message("fwjr.raw", 0, 5, b"{not json", None, None)])
    write = store_tables(flush)
    assert [table for table, _, _ in write.rows] == ["dlq_counts"]
    assert write.ledger is not None and write.ledger[0] == "ingest_batches"


def test_a_flush_of_only_skipped_messages_writes_nothing() -> None:
    pipeline = Pipeline(committed={("fwjr.raw", 0): 9})
    write = store_tables(pipeline.process([Message("fwjr.raw", 0, 5, b"{}", None, None)]))
    assert (write.rows, write.ledger, write.batches) == ([], None, [])
