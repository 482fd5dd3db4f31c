"""The `fwjr` command line: one entry point for operators, scripts and tests."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import msgspec
import typer

from fwjr.aggregate import Aggregator, error_dicts, present, present_error, row_dicts
from fwjr.bucket import PRECISIONS
from fwjr.cli.ops import register as register_ops_commands
from fwjr.model import Rejection
from fwjr.reader import read_jobs

app = typer.Typer(
    help="FWJR Monitor: merge, aggregate and watch CMS job reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

register_ops_commands(app)

Precision = Enum("Precision", {p: p for p in PRECISIONS}, type=str)


class OutputFormat(str, Enum):
    jsonl = "jsonl"
    table = "table"


class RowsKind(str, Enum):
    aggregates = "aggregates"
    errors = "errors"


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
    from fwjr.cli.progress import counted

    accepted = rejected = 0
    out = sys.stdout.buffer
    for item in counted(read_jobs(paths), "merging FWJRs"):
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
    rows_kind: Annotated[RowsKind, typer.Option("--rows", help="Aggregate rows, or the step error rows.")] = RowsKind.aggregates,
) -> None:
    """Print aggregates (or step error counts) of the FWJRs, computed by the same code the stream and replay use."""
    from fwjr.cli.progress import counted

    aggregator = Aggregator(precision.value)
    rejected = 0
    for item in counted(read_jobs(paths), "aggregating FWJRs"):
        if type(item) is Rejection:
            rejected += 1
            _report_rejection(item)
        else:
            aggregator.add(item)
    if rows_kind is RowsKind.errors:
        rows = [present_error(row, precision.value) for row in error_dicts(aggregator.errors)]
    else:
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
    from fwjr.cli.terminal import aggregate_table, error_table

    if rows and "count" in rows[0]:
        error_table(rows)
    else:
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
    from fwjr.cli.generate import run_generate

    summary = run_generate(count, seed, format.value, out, minutes, start, scenario)
    typer.echo(_encoder.encode(summary).decode(), err=True)


def main() -> None:
    app()


def _settings():
    from fwjr.config import settings

    return settings()


@app.command()
def up(
    detach: Annotated[bool, typer.Option("--detach", help="Return once everything is ready.")] = False,
    feed_rate: Annotated[float, typer.Option("--feed-rate", help="Generated FWJRs per second to feed in (0 = none).")] = 50.0,
) -> None:
    """Start the local default: Kafka broker, worker (store owner) with the board, and a generated feed."""
    from fwjr.devstack import local

    url = local.up(_settings(), feed_rate)
    typer.echo(f"FWJR Monitor is up: board at {url}  (state in {_settings().home}; `fwjr down` stops it)")
    if detach:
        return
    try:
        while local.worker(_settings()).pid() is not None:
            import time

            time.sleep(1.0)
        typer.echo("the worker stopped; see its log", err=True)
    except KeyboardInterrupt:
        pass
    finally:
        typer.echo(f"stopped: {', '.join(local.down(_settings())) or 'nothing'}")


@app.command()
def down() -> None:
    """Stop the local default stack (feed, worker, broker)."""
    from fwjr.devstack import local

    typer.echo(f"stopped: {', '.join(local.down(_settings())) or 'nothing was running'}")


@app.command()
def status() -> None:
    """What runs, the worker's lag per partition, and where the logs are."""
    from fwjr.devstack import local

    typer.echo(_encoder.encode(local.status(_settings())).decode())


@app.command()
def worker() -> None:
    """Run one stream worker in the foreground (it also serves the board when it owns an embedded store)."""
    from streams.worker import run_worker

    settings = _settings()
    run_worker(settings, with_dashboard=settings.clickhouse_url is None)


@app.command()
def alerter() -> None:
    """Run the alerter in the foreground: the alert rule over every worker's jobs (one evaluates, others stand by)."""
    from streams.alerter import serve

    serve(_settings())


@app.command()
def dashboard() -> None:
    """Serve the board and its JSON API alone (against a ClickHouse server, or an embedded store nobody owns)."""
    from dashboard.server import main as serve

    raise typer.Exit(serve())


@app.command()
def produce(
    paths: Annotated[Optional[list[Path]], typer.Argument(help="FWJR files or archive folders to publish.")] = None,
    generate: Annotated[Optional[int], typer.Option("--generate", help="Publish N generated FWJRs (0 = until stopped).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Generator seed.")] = 1,
    rate: Annotated[Optional[float], typer.Option("--rate", help="Messages per second (default: as fast as possible).")] = None,
    minutes: Annotated[Optional[float], typer.Option("--minutes", help="Generated event time spread (0 = now).")] = None,
    scenario: Annotated[Optional[Path], typer.Option("--scenario", help="Scenario file for generated traffic.")] = None,
    avro: Annotated[bool, typer.Option("--avro", help="Send Avro single-object messages instead of JSON.")] = False,
    wait: Annotated[bool, typer.Option("--wait", help="Return only once the worker has written everything.")] = False,
) -> None:
    """Publish FWJRs to fwjr.raw (keyed by identity)."""
    from fwjr.kafka import publish as producing
    from fwjr.kafka.producer import make_producer

    settings = _settings()
    fmt = "avro" if avro else "json"
    producer = make_producer(settings.bootstrap)
    if generate is not None:
        from fwjr.cli.generate import generated_messages

        messages = generated_messages(generate, seed, fmt, minutes, scenario, rate)
    elif paths:
        messages = producing.messages_from_paths(paths, fmt)
    else:
        raise typer.BadParameter("give PATH... or --generate N")
    from fwjr.cli.progress import counted, waiting

    summary = producing.publish(producer, counted(messages, "publishing", total=generate or None), rate)
    typer.echo(f"published {summary.messages} messages ({summary.bytes} bytes) to fwjr.raw", err=True)
    if wait:
        with waiting("waiting for the worker to write them") as left:
            producing.wait_drained(settings.bootstrap, progress=left)
        typer.echo("the worker has written everything", err=True)


@app.command()
def migrate() -> None:
    """Apply the ClickHouse DDL in sql/ (ordered, idempotent, recorded)."""
    from fwjr.store.connection import connect
    from fwjr.store.migrate import migrate as run_migrations

    with connect(_settings()) as store:
        applied = run_migrations(store)
    typer.echo(f"applied: {', '.join(applied) or 'nothing (up to date)'}")


query_app = typer.Typer(help="Read the store (through the running stack's API when it owns the store).", no_args_is_help=True)
app.add_typer(query_app, name="query")


# The options every `fwjr query` command takes: a UTC range, a precision and an output format.
QueryStart = Annotated[str, typer.Option("--from", help="Start (ISO time or date, UTC).")]
QueryEnd = Annotated[str, typer.Option("--to", help="End, exclusive (ISO time or date, UTC).")]
QueryPrecision = Annotated[Precision, typer.Option("--precision", help="Time bucket size.")]
QueryFormat = Annotated[OutputFormat, typer.Option("--format", help="Output format.")]


@query_app.command("aggregates")
def query_aggregates(
    start: QueryStart, end: QueryEnd, precision: QueryPrecision = Precision.hour, format: QueryFormat = OutputFormat.jsonl
) -> None:
    """Stored aggregates, printed exactly like `fwjr aggregate` prints them."""
    from fwjr.bucket import parse_iso
    from fwjr.cli.reads import read_aggregates

    rows = read_aggregates(_settings(), parse_iso(start), parse_iso(end), precision.value)
    _print_rows([present(row, precision.value) for row in rows], format)


@query_app.command("errors")
def query_errors(
    start: QueryStart, end: QueryEnd, precision: QueryPrecision = Precision.hour, format: QueryFormat = OutputFormat.jsonl
) -> None:
    """Stored step error counts, printed exactly like `fwjr aggregate --rows errors` prints them."""
    from fwjr.bucket import parse_iso
    from fwjr.cli.reads import read_error_rows

    rows = read_error_rows(_settings(), parse_iso(start), parse_iso(end), precision.value)
    _print_rows([present_error(row, precision.value) for row in rows], format)


# ---------------------------------------------------------------- alerts and service status


def _alert_table(alerts: list[dict]) -> None:
    from fwjr.bucket import iso

    header = ("state", "scope", "fired", "resolved", "rate", "baseline", "top exit code", "suspected cause")
    rows = []
    for alert in alerts:
        evidence = alert["evidence"]
        top = evidence.get("top_exit_codes") or []
        causes = evidence.get("suspected_causes") or []
        rows.append((
            alert["state"],
            "all jobs" if alert["scope"] == "all" else f"{alert['scope']}={alert['value']}",
            iso(alert["fired"]),
            iso(alert["resolved"]) if alert["resolved"] else "-",
            f"{evidence['rate']:.1%}",
            f"{evidence['baseline']:.1%}",
            f"{top[0]['exit_code']} {top[0]['description']}"[:50] if top else "-",
            ", ".join(f"{c['service']} {c['state']}" for c in causes) or "-",
        ))
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        typer.echo("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())


@app.command()
def alerts(
    format: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = OutputFormat.table,
    hours: Annotated[float, typer.Option("--hours", help="Also list alerts fired within this many hours.")] = 24.0,
) -> None:
    """Active and recent alerts: scope, state, fired and resolved times, evidence."""
    import time

    from fwjr.cli.reads import read_alerts

    found = read_alerts(_settings(), int(time.time() - hours * 3600))
    if format is OutputFormat.jsonl:
        out = sys.stdout.buffer
        for alert in found:
            out.write(_encoder.encode(alert) + b"\n")
        out.flush()
        return
    _alert_table(found)


@app.command("service-status")
def service_status(
    service: Annotated[str, typer.Argument(help="Service name, e.g. EOS, FTS, T1_US_FNAL_Disk.")],
    state: Annotated[str, typer.Argument(help="up, degraded or down.")],
    message: Annotated[str, typer.Option("--message", help="What is wrong (shown with the outage).")] = "",
    at: Annotated[Optional[str], typer.Option("--at", help="When (ISO UTC); default now.")] = None,
    source: Annotated[str, typer.Option("--source", help="Who says so.")] = "fwjr service-status",
) -> None:
    """Post one service status event to service.status by hand."""
    import time

    from fwjr.alerting.status import parse_status
    from fwjr.kafka.producer import make_producer
    from fwjr.kafka.status import publish_status

    doc = {"service": service, "state": state, "ts": at or int(time.time()), "message": message, "source": source}
    parsed = parse_status(doc, "fwjr service-status")
    if isinstance(parsed, Rejection):
        typer.echo(f"rejected: {parsed.message()}", err=True)
        raise typer.Exit(2)
    publish_status(make_producer(_settings().bootstrap), [msgspec.structs.asdict(parsed)])
    typer.echo(f"published: {parsed.service} {parsed.state} at {parsed.ts}", err=True)


maintenance_app = typer.Typer(help="Planned maintenance windows: announce one, list them (they silence alerts blaming the service).",
                               no_args_is_help=True)
app.add_typer(maintenance_app, name="maintenance")


@maintenance_app.command("add")
def maintenance_add(
    service: Annotated[str, typer.Argument(help="Service name as the alerts blame it, e.g. EOS.")],
    start: Annotated[str, typer.Option("--start", help="Start of the window (ISO UTC).")],
    end: Annotated[str, typer.Option("--end", help="End of the window, after its start (ISO UTC).")],
    message: Annotated[str, typer.Option("--message", help="What is done (the silence's comment).")] = "",
    source: Annotated[str, typer.Option("--source", help="Who announces it.")] = "fwjr maintenance add",
) -> None:
    """Announce a planned maintenance window on service.status (validated before it is sent; exit 2 otherwise)."""
    import time

    from fwjr.alerting.status import parse_status
    from fwjr.kafka.producer import make_producer
    from fwjr.kafka.status import publish_status

    doc = {"service": service, "state": "maintenance", "ts": int(time.time()), "start": start, "end": end,
           "message": message, "source": source}
    parsed = parse_status(doc, "fwjr maintenance add")
    if isinstance(parsed, Rejection):
        typer.echo(f"rejected: {parsed.message()}", err=True)
        raise typer.Exit(2)
    publish_status(make_producer(_settings().bootstrap), [msgspec.structs.asdict(parsed)])
    typer.echo(f"published: maintenance of {parsed.service} from {parsed.start} to {parsed.end}", err=True)


@maintenance_app.command("list")
def maintenance_list(
    hours: Annotated[float, typer.Option("--hours", help="Also list windows that ended within this many hours.")] = 24.0,
) -> None:
    """Maintenance windows not over (or over within --hours), by start (JSON lines)."""
    import time

    from fwjr.cli.reads import read_maintenance

    out = sys.stdout.buffer
    for window in read_maintenance(_settings(), int(time.time() - hours * 3600)):
        out.write(_encoder.encode(window) + b"\n")
    out.flush()


@app.command()
def outages(
    service: Annotated[Optional[str], typer.Argument(help="Only this service.")] = None,
    hours: Annotated[float, typer.Option("--hours", help="How far back to look.")] = 24.0 * 7,
) -> None:
    """When each service stopped working and for how long (JSON lines: service, start, end, state, duration)."""
    import time

    from fwjr.cli.reads import read_outages

    now = int(time.time())
    out = sys.stdout.buffer
    for outage in read_outages(_settings(), int(now - hours * 3600), now + 1, service):
        outage["duration"] = (outage["end"] or now) - outage["start"]
        out.write(_encoder.encode(outage) + b"\n")
    out.flush()


@app.command()
def correlate(
    start: Annotated[str, typer.Option("--from", help="Start (ISO time or date, UTC).")],
    end: Annotated[str, typer.Option("--to", help="End, exclusive (ISO time or date, UTC).")],
    site: Annotated[Optional[str], typer.Option("--site", help="Only this site.")] = None,
    workflow: Annotated[Optional[str], typer.Option("--workflow", help="Only this workflow.")] = None,
    exit_code: Annotated[Optional[int], typer.Option("--exit-code", help="Only this exit code.")] = None,
) -> None:
    """Failures inside vs outside outages per exit code and site, with a retry/debug verdict per exit code (JSON)."""
    from fwjr.bucket import parse_iso
    from fwjr.cli.reads import read_correlation

    filters = {k: str(v) for k, v in (("site", site), ("workflow", workflow), ("exit_code", exit_code)) if v is not None}
    report = read_correlation(_settings(), parse_iso(start), parse_iso(end), filters)
    typer.echo(_encoder.encode(report).decode())


@app.command()
def triage(
    start: QueryStart,
    end: QueryEnd,
    workflow: Annotated[Optional[str], typer.Option("--workflow", help="Only this workflow (~pattern: an re2 pattern).")] = None,
    task: Annotated[Optional[str], typer.Option("--task", help="Only workflows with failed jobs of this task (~pattern).")] = None,
    site: Annotated[Optional[str], typer.Option("--site", help="Only workflows with failed jobs at this site (~pattern).")] = None,
    exit_code: Annotated[Optional[str], typer.Option("--exit-code", help="Only workflows with step errors of this exit code.")] = None,
    campaign: Annotated[Optional[str], typer.Option("--campaign", help="Only workflows with failed jobs in this campaign (~pattern).")] = None,
    format: QueryFormat = OutputFormat.jsonl,
) -> None:
    """The decision per failing workflow: verdict, remedy, rule and evidence, most wasted core-hours first.

    Filters select workflows; each is listed with its whole decision, over all its jobs."""
    from fwjr.bucket import parse_iso
    from fwjr.cli.reads import read_triage

    given = {k: v for k, v in (("workflow", workflow), ("task", task), ("site", site), ("exit_code", exit_code), ("campaign", campaign))
             if v is not None}
    try:
        decisions = read_triage(_settings(), parse_iso(start), parse_iso(end), given)
    except (ValueError, RuntimeError) as error:
        typer.echo(f"fwjr triage: {error}", err=True)
        raise typer.Exit(2) from None
    if format is OutputFormat.table:
        from fwjr.cli.terminal import triage_table

        triage_table(decisions)
        return
    out = sys.stdout.buffer
    for decision in decisions:
        out.write(_encoder.encode(decision) + b"\n")
    out.flush()


@app.command("job-services")
def job_services(identity: Annotated[str, typer.Argument(help="The job's identity (wmaid or document hash).")]) -> None:
    """Which services were down or degraded while one job ran (JSON lines)."""
    from fwjr.cli.reads import read_job_services

    found = read_job_services(_settings(), identity)
    if found is None:
        typer.echo(f"job {identity!r} is not in the store", err=True)
        raise typer.Exit(1)
    out = sys.stdout.buffer
    for outage in found:
        out.write(_encoder.encode(outage) + b"\n")
    out.flush()


# ---------------------------------------------------------------- replay


@app.command()
def replay(
    source: Annotated[str, typer.Argument(help="Archive root, local path or hdfs://host:port/path (ROOT/YYYY/MM/DD/*.avro).")],
    start: Annotated[str, typer.Option("--from", help="Start: YYYY-MM-DD, days ago (0 today, 1 yesterday) or ISO time, UTC.")],
    end: Annotated[str, typer.Option("--to", help="End, exclusive, same forms (--from 1 --to 0 is yesterday).")],
    precision: Annotated[Precision, typer.Option("--precision", help="Bucket size of the rows (the store's is minute).")] = Precision.minute,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the aggregate rows (as `fwjr aggregate`) instead of writing.")] = False,
    master: Annotated[Optional[str], typer.Option("--master", help="Spark master (default FWJR_SPARK_MASTER, else local[2]).")] = None,
) -> None:
    """Rebuild a time range of the aggregate cache from the Avro archive with Spark."""
    from batch.command import replay as run

    try:
        run(_settings(), source, start, end, precision.value, dry_run, master)
    except ValueError as error:
        typer.echo(f"fwjr replay: {error}", err=True)
        raise typer.Exit(2)
    except RuntimeError as error:
        typer.echo(f"fwjr replay: {error}", err=True)
        raise typer.Exit(1)
