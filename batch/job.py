"""The replay's Spark job: archive files in, the range's aggregate and error rows out.

Plan (one Spark job, two stages):
1. spark-avro reads the files with a reader schema cut down to the fields the merge reads
   (MERGE_PROJECTION), so the Avro decoder skips the rest, and drops records whose
   meta_data.ts is plainly outside the range in the JVM. The exact range test runs in Python
   on the merged job's ts.
2. Dedupe: every record gets a routing key, `wmaid` when present, else its `task` (a job
   without wmaid is identified by a hash that includes its task, see fwjr.merge._identity), and
   the rows are repartitioned by that key. All copies of one identity thus land in one task,
   whose Aggregator counts it once: no identity list is shuffled or collected, and only the
   documents cross the shuffle once.
3. Each task runs batch.fold (to_job + Aggregator) over Arrow batches of the records
   (nested structs, turned into the dicts fastavro would give) and emits partial rows; Spark groups them by (kind, bucket, scope) and sums. The result is small (one row per
   bucket and scope) and is collected to the driver as Arrow.

Which copy of a duplicated identity counts is the first the task meets; copies of one FWJR
are byte-identical in the archive, so this does not change the result. Conflicting documents
that share a wmaid would be counted from either copy.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.compute as pc

from batch.avro_source import ALL, Projection, is_local, list_archive_files, read_records
from batch.fold import FILE, KEY_COLUMNS, STAT_DOCUMENTS, STAT_DUPLICATES, STAT_OUTSIDE, fold_ddl, fold_partition
from fwjr.aggregate import VALUE_COLUMNS
from fwjr.metrics import BY_GROUP, GROUP_ALIASES
from fwjr.model import ERROR_KEYS, SCOPE_KEYS

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

# What fwjr.merge reads to make the job's aggregate and error rows, and nothing else: input
# files, PFNs, output file details, ... are skipped by the Avro decoder. LFNArray is left out
# too: the merge takes only the job's log archive from it, which aggregates do not hold.
_PERFORMANCE: Projection = {group: ALL for group in (*BY_GROUP, *GROUP_ALIASES, "cmssw")}
MERGE_PROJECTION: Projection = {
    **{name: ALL for name in ("wmaid", "task", "Campaign", "meta_data", "WMTiming", "siteName", "hostName")},
    "steps": {
        **{name: ALL for name in ("name", "site", "start", "stop", "startTime", "stopTime", "errors")},
        "output": {"events": ALL, "acquisitionEra": ALL},
        "performance": _PERFORMANCE,
    },
}
ROUTE = "route"
# Archive bytes (deflated Avro, ~1.2 kB per generated FWJR, so ~110,000 FWJRs) folded by one
# task; the fewest tasks (both cores of the default local[2] fold even a small replay) and the most.
BYTES_PER_FOLD = 128 * 1024 * 1024
MIN_FOLD_PARTITIONS = 2
MAX_FOLD_PARTITIONS = 2000
# meta_data.ts may be written in milliseconds (fwjr.merge divides values above 1e11).
_MILLIS_ABOVE = 100_000_000_000


@dataclass
class ReplayResult:
    """The rows for the store and what the run saw."""

    aggregates: pa.Table
    errors: pa.Table
    files: int
    documents: int
    outside: int
    duplicates: int
    rejected: dict[str, int] = field(default_factory=dict)
    reject_samples: dict[str, str] = field(default_factory=dict)

    @property
    def jobs(self) -> int:
        """FWJRs counted (inside the range, each identity once)."""
        return int(pc.sum(self.aggregates.column("jobs")).as_py() or 0) if self.aggregates.num_rows else 0

    def buckets(self) -> int:
        """Distinct buckets written."""
        return len(pc.unique(self.aggregates.column("bucket"))) if self.aggregates.num_rows else 0


Progress = Callable[[int, int, int, int], None]  # (Spark tasks done, tasks total, documents, rejected)


@dataclass(frozen=True)
class Counters:
    """Spark accumulators the fold tasks add to (values reach the driver as tasks finish)."""

    documents: Any
    rejected: Any


def archive_dataframe(spark: SparkSession, files: list[str], start: int, end: int) -> DataFrame:
    """The records that can fall inside [start, end), with their file and routing key."""
    from pyspark.sql import functions as F

    records = read_records(spark, files, MERGE_PROJECTION)
    columns = records.columns
    ts = F.col("meta_data.ts") if "meta_data" in columns else F.lit(None)
    plausible = ts.isNull() | ts.between(start, end - 1) | (ts > _MILLIS_ABOVE)
    wmaid = F.col("wmaid") if "wmaid" in columns else F.lit(None).cast("string")
    task = F.col("task") if "task" in columns else F.lit(None).cast("string")
    route = F.when(F.length(wmaid) > 0, F.concat(F.lit("w"), wmaid)).otherwise(F.concat(F.lit("t"), F.coalesce(task, F.lit(""))))
    return records.where(plausible).select(*columns, F.input_file_name().alias(FILE), route.alias(ROUTE))


def fold_partitions(input_bytes: int) -> int:
    """How many tasks fold the documents: one per BYTES_PER_FOLD of archive files, at least two.

    Each task pays a fixed price (a Python worker, its imports, a shuffle block; and every
    task makes the worker invalidate its import caches, which re-reads the directory of the
    Spark jar on the workers' import path: ~0.3 s of CPU). Each also emits its partial rows:
    fewer, larger tasks merge more jobs that share a (bucket, scope) key before Spark's GROUP BY
    sees them. 128 MB per task (10 tasks for a day of ~1M FWJRs) was faster than 64 MB; 256 MB
    left one core idle in the last round and needed much more memory in the Python workers
    (docs/replay.md).
    """
    return max(MIN_FOLD_PARTITIONS, min(MAX_FOLD_PARTITIONS, math.ceil(input_bytes / BYTES_PER_FOLD)))


def local_bytes(files: list[str]) -> int:
    """Total size of local archive files (paths or file: URLs)."""
    return sum(os.path.getsize(urlparse(name).path if name.startswith("file:") else name) for name in files)


def input_bytes(spark: SparkSession, files: list[str]) -> int:
    """Total size of the archive files, through Hadoop's FileSystem for URLs (hdfs://, ...)."""
    if all(is_local(name) for name in files):
        return local_bytes(files)
    hadoop_path = spark._jvm.org.apache.hadoop.fs.Path
    conf = spark._jsc.hadoopConfiguration()
    total = 0
    for name in files:
        path = hadoop_path(name)
        total += path.getFileSystem(conf).getFileStatus(path).getLen()
    return total


def partial_rows(records: DataFrame, start: int, end: int, precision: str, partitions: int) -> tuple[DataFrame, Counters]:
    """The grouped result (one row per kind, bucket, scope, step, reason, with summed values) and
    accumulators of documents folded and rejected, which grow as tasks finish."""
    from pyspark.sql import functions as F

    routed = records.repartition(partitions, ROUTE).drop(ROUTE)
    context = records.sparkSession.sparkContext
    documents, rejected = context.accumulator(0), context.accumulator(0)

    def counted(seen: int, refused: int) -> None:
        documents.add(seen)
        rejected.add(refused)

    folded = routed.mapInArrow(lambda batches: fold_partition(batches, start, end, precision, counted), fold_ddl())
    sums = [F.sum(name).alias(name) for name in VALUE_COLUMNS]
    grouped = folded.groupBy(*KEY_COLUMNS).agg(*sums)
    return grouped, Counters(documents, rejected)


def run_replay(
    spark: SparkSession,
    source: str,
    start: int,
    end: int,
    precision: str = "minute",
    progress: Progress | None = None,
    slack_days: int = 1,
    files: list[str] | None = None,
) -> ReplayResult:
    """Read the archive under `source` around [start, end) and aggregate the FWJRs inside it.

    `files` skips the listing when the caller has done it (see list_archive_files).
    """
    if files is None:
        files = list_archive_files(source, start, end - 1, slack_days)
    if not files:
        empty = _split(pa.Table.from_batches([], schema=_grouped_schema()))
        return ReplayResult(empty[0], empty[1], 0, 0, 0, 0)
    partitions = fold_partitions(input_bytes(spark, files))
    grouped, counters = partial_rows(archive_dataframe(spark, files, start, end), start, end, precision, partitions)
    table = _collect(spark, grouped, counters, progress)
    aggregates, errors, rejects, stats = _split(table)
    return ReplayResult(
        aggregates=aggregates,
        errors=errors,
        files=len(files),
        documents=stats.get(STAT_DOCUMENTS, 0),
        outside=stats.get(STAT_OUTSIDE, 0),
        duplicates=stats.get(STAT_DUPLICATES, 0),
        rejected={row["reason"]: row["jobs"] for row in rejects},
        reject_samples={row["reason"]: row["detail"] for row in rejects},
    )


def _grouped_schema() -> pa.Schema:
    from batch.fold import fold_schema

    return fold_schema()


def _collect(spark: SparkSession, grouped: DataFrame, counters: Counters, progress: Progress | None) -> pa.Table:
    """Run the job; while it runs, report task progress from Spark's status tracker."""
    if progress is None:
        return grouped.toArrow()
    done = threading.Event()
    group = f"fwjr-replay-{time.time_ns()}"
    spark.sparkContext.setJobGroup(group, "fwjr replay")
    watcher = threading.Thread(target=_watch, args=(spark, group, counters, progress, done), daemon=True)
    watcher.start()
    try:
        return grouped.toArrow()
    finally:
        done.set()
        watcher.join(timeout=5)
        spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)


def _watch(spark: SparkSession, group: str, counters: Counters, progress: Progress, done: threading.Event) -> None:
    tracker = spark.sparkContext.statusTracker()
    while not done.wait(0.5):
        finished = total = 0
        for job_id in tracker.getJobIdsForGroup(group):
            job = tracker.getJobInfo(job_id)
            if job is None:
                continue
            for stage_id in job.stageIds:
                stage = tracker.getStageInfo(stage_id)
                if stage is not None:
                    finished += stage.numCompletedTasks
                    total += stage.numTasks
        progress(finished, total, counters.documents.value, counters.rejected.value)


def sorted_rows(rows: pa.Table) -> pa.Table:
    """Aggregate or error rows in the order `fwjr aggregate` prints them: by bucket, then keys."""
    keys = ("bucket", *(SCOPE_KEYS if "jobs" in rows.column_names else ERROR_KEYS))
    return rows.sort_by([(c, "ascending") for c in keys])


def _split(table: pa.Table) -> tuple[pa.Table, pa.Table, list[dict], dict[str, int]]:
    """(aggregate rows, error rows, reject rows, counters) from the grouped result.

    The rows are left in Spark's order: the store sorts what it is given, and sorting a day
    of minute rows by their twelve keys took ~3 s of a ~2 minute replay. Printing sorts them
    (`sorted_rows`).
    """
    kinds = table.column("kind")
    agg = table.filter(pc.equal(kinds, "agg")).select(["bucket", *SCOPE_KEYS, *VALUE_COLUMNS])
    err = table.filter(pc.equal(kinds, "err")).select(["bucket", *ERROR_KEYS, "jobs"]).rename_columns(
        ["bucket", *ERROR_KEYS, "count"]
    )
    rejects = _reject_rows(table.filter(pc.equal(kinds, "rej")).select(["reason", "detail", "jobs"]).to_pylist())
    stats = {row["reason"]: row["jobs"] for row in table.filter(pc.equal(kinds, "stat")).select(["reason", "jobs"]).to_pylist()}
    return agg, err, sorted(rejects, key=lambda r: r["reason"]), stats


def _reject_rows(rows: list[dict]) -> list[dict]:
    """One row per reason: Spark summed the counts per (reason, sample message), and each fold
    task has its own sample; the first message in sort order is kept, the counts are added."""
    merged: dict[str, dict] = {}
    for row in rows:
        kept = merged.setdefault(row["reason"], {"reason": row["reason"], "detail": row["detail"], "jobs": 0})
        kept["jobs"] += row["jobs"]
        kept["detail"] = min(kept["detail"], row["detail"])
    return list(merged.values())
