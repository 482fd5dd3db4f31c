"""Benchmark: reading the Avro archive into Spark as documents the merge can take.

Every Spark variant ends the same way the replay does: a Python mapInArrow that turns each
document into a dict (what fwjr.merge consumes) and counts it, so the numbers include the
JVM -> Python hand-over and not just the JVM-side scan (a bare count() would let Spark prune
every column and decode nothing). The baseline is fastavro in this one process over the same
files (what `fwjr aggregate` does); every rate is printed as docs/s and as a ratio to it.

    python -m bench.bench_avro_read [--docs 40000] [--hours 24] [--root DIR] [--master local[2]]

The generated archive (fwjr.synth) has one file per hour of FWJR time.
"""

from __future__ import annotations

import argparse
import io
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import fastavro
import orjson
import pyarrow as pa

from batch.arrow_records import records_converter
from batch.avro_source import read_records
from batch.job import MERGE_PROJECTION
from batch.spark_session import get_spark
from fwjr.synth import generate_documents, write_archive

START_TS = 1_700_000_000
DOCUMENT_COLUMN = "doc"


def _fastavro_decode_files(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """The losing candidate: whole-file bytes shipped to Python, decoded by fastavro, dumped as JSON."""
    for batch in batches:
        docs = [orjson.dumps(record) for content in batch.column("content").to_pylist()
                for record in fastavro.reader(io.BytesIO(content))]
        yield pa.RecordBatch.from_arrays([pa.array(docs, type=pa.string())], names=[DOCUMENT_COLUMN])


def read_documents_fastavro(spark, files: list[str]):
    """binaryFile (any Hadoop FS) + fastavro in mapInArrow: documents exactly as fastavro decodes them."""
    raw = spark.read.format("binaryFile").load(files).select("content")
    return raw.mapInArrow(_fastavro_decode_files, f"{DOCUMENT_COLUMN} string")


def _count_json_docs(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    count = 0
    for batch in batches:
        for text in batch.column(DOCUMENT_COLUMN).to_pylist():
            count += len(orjson.loads(text)) > 0
    yield pa.RecordBatch.from_arrays([pa.array([count], pa.int64())], names=["n"])


def _count_converted_rows(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """The replay's route: nested Arrow structs turned into dicts by batch.arrow_records."""
    count = 0
    convert = None
    for batch in batches:
        convert = convert or records_converter(batch.schema)
        count += sum(len(row) > 0 for row in convert(batch))
    yield pa.RecordBatch.from_arrays([pa.array([count], pa.int64())], names=["n"])


def _as_json(df):
    from pyspark.sql import functions as F

    return df.select(F.to_json(F.struct(*df.columns)).alias(DOCUMENT_COLUMN))


def baseline(files: list[str]) -> int:
    """Plain single-process fastavro: the reference rate."""
    count = 0
    for path in files:
        with open(path, "rb") as source:
            count += sum(1 for _ in fastavro.reader(source))
    return count


def _timed(run: Callable[[], int]) -> tuple[int, float]:
    started = time.perf_counter()
    count = run()
    return count, time.perf_counter() - started


def _spark_variants(spark, files: list[str]) -> dict[str, Callable[[], int]]:
    def total(df, consumer) -> int:
        return df.mapInArrow(consumer, "n long").groupBy().sum("n").collect()[0][0]

    return {
        "spark-avro all fields, to_json, orjson": lambda: total(_as_json(read_records(spark, files)), _count_json_docs),
        "spark-avro merge projection, to_json, orjson": lambda: total(
            _as_json(read_records(spark, files, MERGE_PROJECTION)), _count_json_docs),
        "spark-avro merge projection, Arrow -> dicts (replay)": lambda: total(
            read_records(spark, files, MERGE_PROJECTION), _count_converted_rows),
        "binaryFile + fastavro in Python -> JSON": lambda: total(read_documents_fastavro(spark, files), _count_json_docs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=40000, help="FWJRs to generate when --root is not given")
    parser.add_argument("--hours", type=float, default=24, help="hours of FWJR time they span (one file per hour)")
    parser.add_argument("--root", help="an existing archive root (ROOT/YYYY/MM/DD/*.avro) to read instead")
    parser.add_argument("--master", default=None, help="Spark master (default FWJR_SPARK_MASTER or local[2])")
    parser.add_argument("--repeat", type=int, default=2, help="timed runs per variant; the first one warms the JVM")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-avro-"))
    try:
        root = Path(args.root) if args.root else workdir / "archive"
        if not args.root:
            generated = generate_documents(args.docs, seed=1, start_ts=START_TS, minutes=args.hours * 60)
            write_archive(generated, root, fmt="avro", files_per_day=24)
        files = sorted(str(path) for path in root.rglob("*.avro"))
        size_mb = sum(Path(f).stat().st_size for f in files) / 1e6
        print(f"{len(files)} files, {size_mb:.1f} MB")

        docs, seconds = _timed(lambda: baseline(files))
        base_rate = docs / seconds
        print(f"{'baseline: fastavro, one process':56s} {docs:>8d} docs {base_rate:>10.0f} docs/s")

        started = time.perf_counter()
        spark = get_spark(args.master, app_name="bench-avro-read")
        print(f"Spark start-up ({spark.sparkContext.master}): {time.perf_counter() - started:.1f} s")
        results: list[tuple[str, float]] = []
        for name, run in _spark_variants(spark, files).items():
            for attempt in range(1, args.repeat + 1):
                count, seconds = _timed(run)
                if count != docs:
                    raise SystemExit(f"{name}: read {count} documents, the baseline read {docs}")
                results.append((f"{name} [run {attempt}]", count / seconds))
        spark.stop()

        # The machine is shared: take the baseline again and keep its better run, so a busy
        # moment during one baseline run does not inflate every ratio.
        docs, seconds = _timed(lambda: baseline(files))
        print(f"{'baseline again':56s} {docs:>8d} docs {docs / seconds:>10.0f} docs/s")
        base_rate = max(base_rate, docs / seconds)
        for label, rate in results:
            print(f"{label:56s} {rate:>10.0f} docs/s  {rate / base_rate:.2f}x baseline")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
