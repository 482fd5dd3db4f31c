"""Pieces every page uses: cards that say what they stand on, empty and error notices,
the freshness badge, and query timing.

Text from FWJRs only ever reaches the page as component children or DataTable cells,
which React escapes; nothing here renders HTML or markdown from data.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from dash import dcc, html

from dashboard import units

log = logging.getLogger("fwjr.board")
T = TypeVar("T")

# Feed age (seconds) at which the freshness badge turns amber, then red.
STALE_AMBER = 120
STALE_RED = 600


def timed(function: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T, float]:
    """A query's result and how long it took in milliseconds (shown on every card)."""
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, (time.perf_counter() - started) * 1000


def card(title: str, body: Any, footer: Any = None, card_id: str | None = None) -> html.Div:
    """A titled panel; `footer` says how many jobs it covers and how long its query took."""
    children = [html.H3(title, className="card-title"), html.Div(body, className="card-body")]
    if footer is not None:
        children.append(html.Div(footer, className="card-footer"))
    return html.Div(children, className="card", **({"id": card_id} if card_id else {}))


def coverage(jobs: int, milliseconds: float, covered: int | None = None) -> str:
    """"12,345 jobs (12,001 with a value) · query 14 ms"."""
    text = f"{units.number(jobs)} jobs"
    if covered is not None and covered != jobs:
        text += f" ({units.number(covered)} with a value)"
    return f"{text} · query {milliseconds:.0f} ms"


def notice(text: str, kind: str = "empty") -> html.Div:
    """A visible state instead of a blank chart: kind is "empty", "error" or "info"."""
    return html.Div(text, className=f"notice notice-{kind}", role="alert" if kind == "error" else "status")


def failure(where: str, error: Exception) -> html.Div:
    """A query or input error as operators should see it: what failed and why, no traceback."""
    log.warning("board: %s failed: %s", where, error, exc_info=not isinstance(error, ValueError))
    return notice(f"{where} failed: {error}", "error")


def loading(children: Any, element_id: str) -> dcc.Loading:
    """A spinner over a region while its callback runs."""
    return dcc.Loading(children, id=f"{element_id}-loading", type="dot", delay_show=300)


def freshness_level(age: int | None) -> str:
    """"ok", "amber" or "red" for the age of the newest FWJR, "none" for an empty store."""
    if age is None:
        return "none"
    if age >= STALE_RED:
        return "red"
    if age >= STALE_AMBER:
        return "amber"
    return "ok"


def freshness_text(age: int | None) -> str:
    """"last FWJR seen 42 s ago", in the largest sensible unit."""
    if age is None:
        return "no FWJR seen yet"
    age = max(age, 0)
    if age < 120:
        return f"last FWJR seen {age} s ago"
    if age < 7200:
        return f"last FWJR seen {age // 60} min ago"
    if age < 172800:
        return f"last FWJR seen {age // 3600} h ago"
    return f"last FWJR seen {age // 86400} days ago"


def filter_input(key: str, value: str, prefix: str, placeholder: str | None = None) -> html.Div:
    """A labelled filter box with a suggestion list; value or "~regex", applied on Enter or blur.

    The suggestions load when the box is clicked (dashboard.suggest).
    """
    return html.Div(
        [
            html.Label(key.replace("_", " "), htmlFor=f"{prefix}-{key}"),
            dcc.Input(
                id=f"{prefix}-{key}",
                type="text",
                value=value,
                debounce=True,
                placeholder=placeholder or "value or ~regex",
                list=f"{prefix}-{key}-suggestions",
                className="filter-input",
            ),
            html.Datalist(id=f"{prefix}-{key}-suggestions"),
        ],
        id=f"{prefix}-{key}-box",
        n_clicks=0,
        className="filter",
    )


def table(columns: list[str], rows: list[list[Any]], table_id: str | None = None, empty: str = "Nothing in this range.") -> html.Div | html.Table:
    """A plain table of escaped cells (cells may be components such as links)."""
    if not rows:
        return notice(empty)
    head = html.Thead(html.Tr([html.Th(c) for c in columns]))
    body = html.Tbody([html.Tr([html.Td(cell) for cell in row]) for row in rows])
    return html.Table([head, body], className="table", **({"id": table_id} if table_id else {}))
