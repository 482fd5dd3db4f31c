"""`fwjr replay`: range, Spark job, store write and the operator's view of it, in that order.

Progress goes to stderr: a rich progress bar on a terminal, one plain line per step (and
per quarter of the Spark tasks) otherwise, so logs of scheduled replays stay readable.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TextIO

from batch.avro_source import archive_days, is_local, list_archive_files
from fwjr.bucket import STORED_PRECISIONS, iso
from fwjr.config import Settings

# Extra day folders read on each side: files sit in the folder of the day they were written.
SLACK_DAYS = 1
# Local archives from this size on are replayed with the JVM's full JIT (batch.spark_session):
# it costs CPU on a small archive and saves time on a day's (docs/replay.md has the figures);
# where between the two it starts to pay is not known, so this is a guess. The size of an
# hdfs:// archive is known only once Spark runs, so those replays keep C1 only.
FULL_JIT_BYTES = 512 * 1024 * 1024


def replay_batch_id(start: int, end: int) -> str:
    """The batch id of a replay's rows, "replay:<from>..<to>" (ISO, UTC).

    Derived from the range only, so two identical replays leave byte-identical tables (as
    GRACC's summaries keyed by their grouping); never shaped like a stream batch
    (topic/partition/first-last), so the exactly-once cleanup leaves replay rows alone.
    """
    return f"replay:{iso(start)}..{iso(end)}"


@dataclass
class ReplayReport:
    """Everything the summary shows; also returned to callers (tests, bench)."""

    source: str
    range_text: str
    start: int
    end: int
    files: int = 0
    documents: int = 0
    jobs: int = 0
    outside: int = 0
    duplicates: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    reject_samples: dict[str, str] = field(default_factory=dict)
    written: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    spark_seconds: float = 0.0

    def lines(self, dry_run: bool) -> list[str]:
        rejected = sum(self.rejected.values())
        out = [
            f"replay of {self.source} {self.range_text}",
            f"  files read: {self.files}",
            f"  FWJRs: {self.documents} read, {self.jobs} counted, {self.duplicates} duplicates, "
            f"{self.outside} outside the range, {rejected} rejected",
        ]
        for reason, count in sorted(self.rejected.items(), key=lambda item: (-item[1], item[0])):
            out.append(f"    rejected {count}: {reason}  (e.g. {self.reject_samples.get(reason, '')})")
        if dry_run:
            out.append("  dry run: the store was not changed")
        elif self.written:
            removed, written = self.written["removed"], self.written["written"]
            out.append(
                f"  buckets replaced: {self.written['buckets']} written; agg rows {removed['agg']} removed, "
                f"{written['agg']} written; error rows {removed['errors']} removed, {written['errors']} written "
                f"(months {', '.join(self.written['partitions'])}, batch {self.written['batch']}, via {self.written['via']})"
            )
        rate = self.documents / self.seconds if self.seconds else 0.0
        out.append(f"  time: {self.seconds:.1f} s ({self.spark_seconds:.1f} s starting Spark), {rate:,.0f} FWJRs/s")
        return out


class Reporter:
    """Progress for humans on a terminal, plain lines for logs."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.interactive = stream.isatty()
        self._last_quarter = -1
        self._bar: Any = None
        self._task: Any = None

    def step(self, text: str) -> None:
        if self._bar is not None:
            self._bar.console.log(text)
        else:
            print(text, file=self.stream, flush=True)

    @contextmanager
    def tasks(self, files: int) -> Iterator[None]:
        if self.interactive:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            with Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[documents]:,} FWJRs, {task.fields[rejected]:,} rejected"), TimeElapsedColumn(),
                console=Console(file=self.stream), transient=True,
            ) as bar:
                self._bar = bar
                self._task = bar.add_task(f"{files} files, Spark tasks", total=None, documents=0, rejected=0)
                try:
                    yield
                finally:
                    self._bar = None
            return
        yield

    def progress(self, done: int, total: int, documents: int, rejected: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=done, total=total or None, documents=documents, rejected=rejected)
            return
        if total:
            quarter = 4 * done // total
            if quarter != self._last_quarter:
                self._last_quarter = quarter
                print(f"spark tasks {done}/{total}: {documents} FWJRs, {rejected} rejected", file=self.stream, flush=True)


def replay(
    settings: Settings,
    source: str,
    start_text: str,
    end_text: str,
    precision: str = "minute",
    dry_run: bool = False,
    master: str | None = None,
    rows_out: TextIO | None = None,
    log: TextIO = sys.stderr,
) -> ReplayReport:
    """Rebuild [from, to) of the store from the archive under `source` (or, dry, print the rows)."""
    from pyspark.sql import SparkSession

    from batch.job import local_bytes, run_replay, sorted_rows
    from batch.range import replay_range
    from batch.spark_session import get_spark
    from fwjr.store import sql

    if not dry_run and precision not in STORED_PRECISIONS:
        raise ValueError(f"--precision {precision}: the store takes {', '.join(STORED_PRECISIONS)} rows (week only with --dry-run)")
    began = time.monotonic()
    span = replay_range(start_text, end_text, int(time.time()), sql.ladder(settings), precision)
    report = ReplayReport(source, span.describe(), span.start, span.end)
    reporter = Reporter(log)
    reporter.step(f"replaying {source} {span.describe()} at {precision} precision")
    files = _archive_files(source, span.start, span.end) if is_local(source) else None
    spark_began = time.monotonic()
    started_here = SparkSession.getActiveSession() is None
    spark = get_spark(master or settings.spark_master, full_jit=files is not None and local_bytes(files) >= FULL_JIT_BYTES)
    report.spark_seconds = time.monotonic() - spark_began
    reporter.step(f"Spark {spark.version} on {spark.sparkContext.master} ready in {report.spark_seconds:.1f} s")
    if files is None:
        files = _archive_files(source, span.start, span.end)
    with reporter.tasks(len(files)):
        result = run_replay(spark, source, span.start, span.end, precision, progress=reporter.progress, files=files)
    report.files, report.documents, report.jobs = result.files, result.documents, result.jobs
    report.outside, report.duplicates = result.outside, result.duplicates
    report.rejected, report.reject_samples = result.rejected, result.reject_samples
    if started_here:
        # The rows are in this process now. A local Spark's JVM (3 GB heap) and Python workers
        # would otherwise stay up beside the store write: stopping first took ~2 s off a
        # day's replay. A session the caller made is theirs to keep.
        spark.stop()
    if dry_run:
        _print_rows(sorted_rows(result.aggregates).to_pylist(), precision, rows_out or sys.stdout)
    else:
        from fwjr.store.handover import replace_in_store

        reporter.step(f"replacing {span.describe()} in the store ({result.aggregates.num_rows} aggregate rows)")
        report.written = replace_in_store(settings, span.start, span.end, result.aggregates, result.errors, replay_batch_id(span.start, span.end))
    report.seconds = time.monotonic() - began
    for line in report.lines(dry_run):
        print(line, file=log, flush=True)
    return report


def _archive_files(source: str, start: int, end: int) -> list[str]:
    """The archive files to read; none is an error, since replacing the range with nothing
    would wipe it because of a mistyped path."""
    days = archive_days(start, end - 1, SLACK_DAYS)
    files = list_archive_files(source, start, end - 1, SLACK_DAYS)
    if not files:
        raise RuntimeError(
            f"no *.avro files under {source} in the folders {days[0]:%Y/%m/%d} to {days[-1]:%Y/%m/%d} "
            "(ROOT/YYYY/MM/DD/*.avro); nothing was replaced"
        )
    return files


def _print_rows(rows: list[dict], precision: str, out: TextIO) -> None:
    """The rows exactly as `fwjr aggregate --format jsonl` prints them, for diffing."""
    import msgspec

    from fwjr.aggregate import present

    encoder = msgspec.json.Encoder()
    for row in rows:
        out.write(encoder.encode(present(row, precision)).decode() + "\n")
    out.flush()
