"""Reading the FWJR archive (ROOT/YYYY/MM/DD/*.avro, local or any Hadoop file system) into Spark.

The archive's folders are the days files were *written*, not the days of the FWJRs inside:
a file flushed after midnight holds the previous day's jobs. So a time range is widened by
`slack_days` folders on both sides, and the exact range is applied later on `meta_data.ts`.

spark-avro decodes the records in the JVM, with a reader schema cut down to the fields the
merge reads; bench/bench_avro_read.py compares the ways of getting them to Python.
"""

from __future__ import annotations

import glob
import json
import os
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

ARCHIVE_SUFFIX = ".avro"
# A Projection keeps, per record field name, the whole field (ALL) or a Projection of its records.
ALL = None
Projection = dict[str, "Projection | None"]


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


def writer_schema(spark: SparkSession, path: str) -> dict:
    """The Avro schema in the header of one archive file, local or on any Hadoop file system.

    Read through the JVM (Hadoop FileSystem + Avro's DataFileStream, both on Spark's class
    path), so local paths and hdfs:// URLs take the same route; only the header is read.
    """
    jvm = spark._jvm
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    stream = hadoop_path.getFileSystem(spark._jsc.hadoopConfiguration()).open(hadoop_path)
    try:
        reader = jvm.org.apache.avro.file.DataFileStream(stream, jvm.org.apache.avro.generic.GenericDatumReader())
        return json.loads(reader.getSchema().toString())
    finally:
        stream.close()


def project_schema(schema: Any, fields: Projection) -> Any:
    """The Avro schema cut down to `fields`, for use as a reader schema.

    `fields` maps a record field name to ALL (keep it whole) or to the Projection of what it
    holds: the fields of a record, or of the records in an array, a map or a nullable union.
    Names the schema does not have are ignored, so one projection fits several archive
    schema generations. Avro schema resolution then skips the fields left out while
    decoding, and Spark never builds them.

    A named type is defined once in a schema and referred to by name afterwards; when the
    projection drops the definition but keeps a reference, the definition moves to the
    reference. A named type kept at two places is cut to the projection of the first.
    """
    named: dict[str, dict] = {}
    _collect_named(schema, named)
    return _project(schema, fields, named, set())


_NAMED_KINDS = ("record", "enum", "fixed")


def _collect_named(schema: Any, named: dict[str, dict], namespace: str = "") -> None:
    """Every named type definition, under its short and its full name (namespaces inherited)."""
    if isinstance(schema, list):
        for branch in schema:
            _collect_named(branch, named, namespace)
    elif isinstance(schema, dict):
        if schema["type"] in _NAMED_KINDS:
            name = schema["name"]
            namespace = name.rpartition(".")[0] if "." in name else schema.get("namespace", namespace)
            named[_short(name)] = schema
            named[f"{namespace}.{_short(name)}" if namespace else name] = schema
        for field in schema.get("fields", ()):
            _collect_named(field["type"], named, namespace)
        for key in ("items", "values"):
            if key in schema:
                _collect_named(schema[key], named, namespace)


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _project(schema: Any, fields: Projection | None, named: dict[str, dict], emitted: set[str]) -> Any:
    if isinstance(schema, list):
        return [branch if branch == "null" else _project(branch, fields, named, emitted) for branch in schema]
    if isinstance(schema, str):
        definition = named.get(schema)
        if definition is None or _short(definition["name"]) in emitted:
            return schema
        return _project(definition, fields, named, emitted)
    kind = schema["type"]
    if kind in _NAMED_KINDS:
        if _short(schema["name"]) in emitted:
            return schema["name"]
        emitted.add(_short(schema["name"]))
    if kind == "array":
        return dict(schema, items=_project(schema["items"], fields, named, emitted))
    if kind == "map":
        return dict(schema, values=_project(schema["values"], fields, named, emitted))
    if kind != "record":
        return schema
    kept = []
    for field in schema["fields"]:
        if fields is not ALL and field["name"] not in fields:
            continue
        inner = ALL if fields is ALL else fields[field["name"]]
        kept.append(dict(field, type=_project(field["type"], inner, named, emitted)))
    return dict(schema, fields=kept)


def read_records(spark: SparkSession, files: list[str], fields: Projection | None = None) -> DataFrame:
    """The FWJRs of `files`, one row each, decoded by spark-avro in the JVM.

    With `fields`, the first file's writer schema cut down to them (project_schema) is the
    reader schema of the whole read: the other fields are skipped by the Avro decoder and
    never built. All files are read with that one schema, so they must be of compatible
    schema generations (Avro schema resolution: same record names, promotable types).

    What differs from a fastavro decode of the same record: a union of several non-null
    types (the archive's open `key -> boolean | double | string` maps) becomes a struct of
    `member0`, `member1`, ... of which one is set (batch.arrow_records turns it into the value).
    """
    if not files:
        return spark.createDataFrame([], "wmaid string")
    reader = spark.read.format("avro")
    if fields is not None:
        reader = reader.option("avroSchema", json.dumps(project_schema(writer_schema(spark, files[0]), fields)))
    return reader.load(list(files))
