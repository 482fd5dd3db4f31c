"""Reading the FWJR archive (ROOT/YYYY/MM/DD/*.avro, local or any Hadoop file system) into Spark.

The archive's folders are the days files were *written*, not the days of the FWJRs inside:
a file flushed after midnight holds the previous day's jobs. So a time range is widened by
`slack_days` folders on both sides, and the exact range is applied later on `meta_data.ts`.

Documents reach Python as JSON text, one per row, because the merge (fwjr.merge) takes plain
dicts, as the stream path decodes them; bench/bench_avro_read.py compares the ways to get there.
"""

from __future__ import annotations

import glob
import os
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING
from urllib.parse import urlparse

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

DOCUMENT_COLUMN = "doc"
DOCUMENT_SCHEMA = f"{DOCUMENT_COLUMN} string"
ARCHIVE_SUFFIX = ".avro"


def archive_days(start_ts: int, end_ts: int, slack_days: int) -> list[date]:
    """The UTC days whose folders can hold FWJRs with start_ts <= ts <= end_ts."""
    if end_ts < start_ts:
        raise ValueError(f"archive range ends before it starts: start_ts={start_ts}, end_ts={end_ts}")
    if slack_days < 0:
        raise ValueError(f"slack_days must be >= 0, got {slack_days}")
    first = datetime.fromtimestamp(start_ts, tz=timezone.utc).date() - timedelta(days=slack_days)
    last = datetime.fromtimestamp(end_ts, tz=timezone.utc).date() + timedelta(days=slack_days)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def day_folder(root: str, day: date) -> str:
    """ROOT/YYYY/MM/DD for one day, keeping a URL root's scheme and authority."""
    return f"{root.rstrip('/')}/{day:%Y/%m/%d}"


def is_local(root: str) -> bool:
    """True for plain paths and file:// URLs, which Python can list and open itself."""
    scheme = urlparse(root).scheme
    return scheme in ("", "file")


def _local_files(root: str, days: list[date]) -> list[str]:
    base = urlparse(root).path if root.startswith("file:") else root
    found: list[str] = []
    for day in days:
        found.extend(glob.glob(os.path.join(day_folder(base, day), f"*{ARCHIVE_SUFFIX}")))
    return sorted(os.path.abspath(path) for path in found)


def _hadoop_files(spark: SparkSession, root: str, days: list[date]) -> list[str]:
    """List through the JVM's Hadoop FileSystem: pyarrow's HDFS client needs libhdfs, which is
    not installed, while the Hadoop client inside Spark is always there and reads any scheme
    Spark does (hdfs, s3a, ...)."""
    jvm = spark._jvm
    conf = spark._jsc.hadoopConfiguration()
    hadoop_path = jvm.org.apache.hadoop.fs.Path
    fs = hadoop_path(root).getFileSystem(conf)
    found: list[str] = []
    for day in days:
        statuses = fs.globStatus(hadoop_path(f"{day_folder(root, day)}/*{ARCHIVE_SUFFIX}"))
        if statuses is None:
            continue
        found.extend(status.getPath().toString() for status in statuses if status.isFile())
    return sorted(found)


def list_archive_files(root: str, start_ts: int, end_ts: int, slack_days: int = 1) -> list[str]:
    """Every archive file whose folder can hold FWJRs of [start_ts, end_ts], sorted.

    Local roots are listed in Python; any other URL (hdfs://host:port/path, ...) through the
    active SparkSession's Hadoop client, starting one with get_spark() if none is running.
    """
    days = archive_days(start_ts, end_ts, slack_days)
    if is_local(root):
        return _local_files(root, days)
    from pyspark.sql import SparkSession

    from batch.spark_session import get_spark

    spark = SparkSession.getActiveSession() or get_spark()
    return _hadoop_files(spark, root, days)


def read_documents(spark: SparkSession, files: list[str], fields: list[str] | None = None) -> DataFrame:
    """A DataFrame with one string column `doc`: each FWJR of `files` as JSON text.

    spark-avro decodes the records in the JVM (splitting large files across tasks) and
    to_json serializes each one, so Python workers only run orjson.loads per document: this
    measured faster than shipping file bytes to fastavro in the workers (bench_avro_read).
    `fields` keeps only those top-level fields, for a replay that knows what the merge reads.

    What differs from a fastavro decode of the same record: null fields are left out (the
    merge treats missing and null alike), and NaN/Infinity doubles come out as the strings
    "NaN"/"Infinity". All files are read with one Spark schema, taken from a file's header,
    so they must be of compatible schema generations.
    """
    from pyspark.sql import functions as F

    if not files:
        return spark.createDataFrame([], DOCUMENT_SCHEMA)
    records = spark.read.format("avro").load(list(files))
    columns = fields or records.columns
    missing = [name for name in columns if name not in records.columns]
    if missing:
        raise ValueError(f"fields {missing} are not in the archive schema of {files[0]} (it has {records.columns})")
    return records.select(F.to_json(F.struct(*columns)).alias(DOCUMENT_COLUMN))
