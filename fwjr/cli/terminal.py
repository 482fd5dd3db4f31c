"""Terminal tables for the CLI's `--format table` outputs (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from fwjr.model import ERROR_KEYS, SCOPE_KEYS

_SHOWN_METRICS = ("wall_time", "core_hours", "cpu_hours", "wasted_core_hours")
TRIAGE_WIDTH = 320  # columns of the triage table when not printed to a terminal


def aggregate_table(rows: list[dict]) -> None:
    """Aggregate rows, one line each: bucket, scope, counts and the main job-weighted metrics."""
    table = Table(show_lines=False)
    for column in ("bucket",) + SCOPE_KEYS + ("jobs", "failed") + _SHOWN_METRICS:
        table.add_column(column, overflow="fold")
    for row in rows:
        metrics = []
        for name in _SHOWN_METRICS:
            total = row.get(f"{name}_sum")
            metrics.append("" if total is None else f"{total:.2f}")
        table.add_row(
            row["bucket"], *(str(row[k]) for k in SCOPE_KEYS), str(row["jobs"]), str(row["failed"]), *metrics
        )
    Console().print(table)


def error_table(rows: list[dict]) -> None:
    """Step error rows, one line each: bucket, the error keys and the count."""
    table = Table(show_lines=False)
    columns = ("bucket",) + ERROR_KEYS + ("count",)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(str(row[column]) for column in columns))
    Console().print(table)


def triage_table(decisions: list[dict]) -> None:
    """One line per failing workflow: the decision, its size and the reason (full detail: --format jsonl)."""
    table = Table(show_lines=False)
    for column in ("workflow", "verdict", "remedy", "rule", "failed", "wasted_core_hours", "top_exit_codes", "group", "reason"):
        table.add_column(column, overflow="fold")
    for d in decisions:
        codes = ", ".join(f"{c['exit_code']} ({c['count']})" for c in d["top_exit_codes"][:3])
        cells = (d["workflow"], d["verdict"], d["remedy"], d["rule"] or "", str(d["failed"]), f"{d['wasted_core_hours']:.1f}",
                 codes, d["group"] or "", d["reason"])
        table.add_row(*(Text(cell) for cell in cells))  # names from FWJRs are text, never rich markup
    console = Console()
    if not console.is_terminal:  # piped or captured: rich would assume 80 columns and fold every cell
        console = Console(width=TRIAGE_WIDTH)
    console.print(table)
