"""The `fwjr` command line: one entry point for operators, scripts and tests."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import msgspec
import typer

from fwjr.aggregate import Aggregator, present, row_dicts
from fwjr.bucket import PRECISIONS
from fwjr.model import Rejection
from fwjr.reader import read_jobs

app = typer.Typer(
    help="FWJR Monitor: merge, aggregate and watch CMS job reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

Precision = Enum("Precision", {p: p for p in PRECISIONS}, type=str)


class OutputFormat(str, Enum):
    jsonl = "jsonl"
    table = "table"


class ArchiveFormat(str, Enum):
    avro = "avro"
    jsonl = "jsonl"


_encoder = msgspec.json.Encoder()


def _report_rejection(rejection: Rejection) -> None:
    typer.echo(f"rejected: {rejection.message()}", err=True)


@app.command()
def jobs(
    paths: Annotated[list[Path], typer.Argument(help="FWJR files or archive folders (JSON, JSON lines, Avro).")],
    format: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = OutputFormat.jsonl,
) -> None:
    """Print one merged job record per FWJR; rejected documents go to stderr with their reason."""
    accepted = rejected = 0
    out = sys.stdout.buffer
    for item in read_jobs(paths):
        if type(item) is Rejection:
            rejected += 1
            _report_rejection(item)
            continue
        accepted += 1
        out.write(_encoder.encode(item) + b"\n")
    out.flush()
    typer.echo(f"{accepted} jobs, {rejected} rejected", err=True)
    if accepted == 0:
        raise typer.Exit(1)


@app.command()
def aggregate(
    paths: Annotated[list[Path], typer.Argument(help="FWJR files or archive folders.")],
    precision: Annotated[Precision, typer.Option("--precision", help="Time bucket size (UTC).")] = Precision.hour,
    format: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = OutputFormat.jsonl,
) -> None:
    """Print aggregates of the FWJRs, computed by the same code the stream and replay use."""
    aggregator = Aggregator(precision.value)
    rejected = 0
    for item in read_jobs(paths):
        if type(item) is Rejection:
            rejected += 1
            _report_rejection(item)
        else:
            aggregator.add(item)
    rows = [present(row, precision.value) for row in row_dicts(aggregator.rows)]
    _print_rows(rows, format)
    typer.echo(
        f"{aggregator.jobs} jobs in {len(rows)} rows, {aggregator.duplicates} duplicates, {rejected} rejected",
        err=True,
    )
    if aggregator.jobs == 0 and rejected:
        raise typer.Exit(1)


def _print_rows(rows: list[dict], format: OutputFormat) -> None:
    if format is OutputFormat.jsonl:
        out = sys.stdout.buffer
        for row in rows:
            out.write(_encoder.encode(row) + b"\n")
        out.flush()
        return
    from fwjr.tables import aggregate_table

    aggregate_table(rows)


@app.command()
def generate(
    count: Annotated[int, typer.Option("--count", help="How many FWJRs.")],
    out: Annotated[Path, typer.Option("--out", help="Archive root to write (ROOT/YYYY/MM/DD/...).")],
    seed: Annotated[int, typer.Option("--seed", help="Random seed: same seed, same bytes.")] = 1,
    format: Annotated[ArchiveFormat, typer.Option("--format", help="File format.")] = ArchiveFormat.avro,
    minutes: Annotated[Optional[float], typer.Option("--minutes", help="Spread event time over M minutes.")] = None,
    start: Annotated[Optional[str], typer.Option("--start", help="First event time (ISO, UTC); default now - minutes.")] = None,
    scenario: Annotated[Optional[Path], typer.Option("--scenario", help="JSON/YAML incidents to lay in.")] = None,
) -> None:
    """Write realistic generated FWJRs in the archive layout."""
    from fwjr.generate_cli import run_generate

    summary = run_generate(count, seed, format.value, out, minutes, start, scenario)
    typer.echo(_encoder.encode(summary).decode(), err=True)


def main() -> None:
    app()
