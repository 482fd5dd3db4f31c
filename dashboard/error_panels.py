"""The error view's and the workflow page's shared panels: which count a page shows (failed jobs by
their first error, or every step error), the top error signatures per exit code with a real
message each, and failures by retry count.

Both pages read the same functions so that the same workflow reads the same on both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dash import dcc, html

from dashboard import components, grids, units
from fwjr import exit_codes
from fwjr.store import error_reads
from fwjr.store.connection import Store

# The two counts a page can show: the URL's `count` value -> what it is called on the page.
COUNTS: dict[str, str] = {
    "errors": "all step errors",
    "jobs": "failed jobs by their first error",
}
DEFAULT_COUNT = "errors"
# Retry counts shown in their own column; higher ones are summed into the last.
RETRY_COLUMNS = 4
# A retry spike that does not settle: this share of the failures happen on a retry.
RETRY_ALARM = 0.5
EXAMPLE_CHARS = 2000


def count_switch(element_id: str, value: str) -> html.Div:
    """The control that switches a page between the two counts."""
    return html.Div(
        [
            html.Label("count", htmlFor=element_id),
            dcc.RadioItems(
                id=element_id,
                options=[{"label": label, "value": key} for key, label in COUNTS.items()],
                value=value if value in COUNTS else DEFAULT_COUNT,
                inline=True,
                className="count-switch",
            ),
        ],
        className="control",
    )


def count_of(view: Mapping[str, str]) -> str:
    """The count a view asks for; an unknown value is an error the page shows."""
    count = view.get("count") or DEFAULT_COUNT
    if count not in COUNTS:
        raise ValueError(f"count={count!r}: expected one of {', '.join(COUNTS)}")
    return count


def matrix(count: str, store: Store, start: int, end: int, rows: str, columns: str, split: str | None,
           filters: Mapping[str, Any] | None, limit: int = 10_000) -> list[dict[str, Any]]:
    """The error matrix of the chosen count (error_reads.error_matrix or error_reads.first_error_matrix)."""
    read = error_reads.first_error_matrix if count == "jobs" else error_reads.error_matrix
    return read(store, start, end, rows, columns, split, filters, limit)


def signatures(rows: list[dict[str, Any]], element_id: str, headed: bool = True) -> Any:
    """Top signatures per exit code (error_reads.top_signatures), each with one real message; `headed`
    puts each exit code's name above its signatures (off where the page already names it)."""
    if not rows:
        return components.notice("No error signatures in this range.")
    blocks: list[Any] = []
    code = None
    for row in rows:
        if headed and row["exit_code"] != code:
            code = row["exit_code"]
            blocks.append(html.H4(f"{code}: {exit_codes.describe(code, failed=True)}", className="signature-code"))
        example = row["example"] or "(no example message kept)"
        if len(example) > EXAMPLE_CHARS:
            example = example[:EXAMPLE_CHARS] + "…"
        head = f"{units.number(row['count'])} errors · signature {row['signature'] or '(none)'}"
        if row["step"]:
            head += f" · e.g. step {row['step']}"
        if row["type"]:
            head += f" · {row['type']}"
        blocks.append(html.Div(
            [html.Div(head, className="snippet-head"), html.Pre(example, className="snippet log-tail")],
            className="signature", **{"data-signature": row["signature"]},
        ))
    return html.Div(blocks, id=element_id)


def retry_table(cells: list[dict[str, Any]], element_id: str, top: int = 15) -> Any:
    """Step errors per exit code by the job's retry count, with the share that came on a retry:
    a share that stays high means retrying does not help."""
    if not cells:
        return components.notice("No errors in this range.")
    by_code: dict[int, list[int]] = {}
    for cell in cells:
        counts = by_code.setdefault(cell["exit_code"], [0] * RETRY_COLUMNS)
        counts[min(int(cell["retry_count"]), RETRY_COLUMNS - 1)] += cell["count"]
    ordered = sorted(by_code, key=lambda c: (-sum(by_code[c]), c))[:top]
    rows = []
    for code in ordered:
        counts = by_code[code]
        row: dict[str, Any] = {"exit_code": f"{code}: {exit_codes.describe(code, failed=True)}", "on_retry": round(100 * sum(counts[1:]) / sum(counts))}
        row.update({f"retry{n}": count for n, count in enumerate(counts) if count})
        rows.append(row)
    headers = [*[f"retry {n}" for n in range(RETRY_COLUMNS - 1)], f"retry {RETRY_COLUMNS - 1}+"]
    columns: list[grids.Column] = [{"field": "exit_code", "headerName": "exit code", "minWidth": 240}]
    columns += [grids.number_column(f"retry{n}", header) for n, header in enumerate(headers)]
    columns.append(grids.number_column("on_retry", "on a retry %", cellClassRules={"retry-alarm": {"function": f"params.value >= {round(100 * RETRY_ALARM)}"}}))
    return grids.grid(element_id, columns, rows, export=f"{element_id}.csv")
