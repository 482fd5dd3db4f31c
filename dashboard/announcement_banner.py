"""The operators' announcements, shown on every board page while they are current.

Like the alert banner: a placeholder in the shell and its own small callback on a timer,
reading the announcements showing now from the operational database. Dash renders the
message as text (never as HTML), so whatever an operator typed is shown, not interpreted.
"""

from __future__ import annotations

import logging
from typing import Any

from dash import Input, Output, callback, dcc, html

from dashboard import context
from dashboard.figures import utc_text
from fwjr.ops import announcements
from fwjr.ops.database import session

log = logging.getLogger("fwjr.board.announcements")
REFRESH_MS = 30_000
COLOURS = {"info": ("#e6f6ff", "#9fd3f5"), "warning": ("#fffbea", "#f0b429"), "critical": ("#ffe3e3", "#e12d39")}


def banner() -> html.Div:
    """The banner's placeholder and timer; empty while nothing is announced."""
    return html.Div([html.Div(id="announcement-banner"), dcc.Interval(id="announcement-banner-tick", interval=REFRESH_MS)])


def banner_lines(rows: list[dict[str, Any]]) -> list[html.Div]:
    """One line per announcement: severity, message (as text), who posted it and until when."""
    lines = []
    for row in rows:
        background, border = COLOURS[row["severity"]]
        lines.append(html.Div(
            [html.Strong(f"{row['severity'].capitalize()}: "), row["message"],
             html.Span(f" — {row['user']}, until {utc_text(row['expires'])} UTC", style={"opacity": 0.7})],
            className=f"announcement announcement-{row['severity']}", role="status",
            style={"background": background, "border": f"1px solid {border}", "padding": "0.4rem 0.8rem", "margin": "0.3rem 0"},
        ))
    return lines


@callback(Output("announcement-banner", "children"), Input("announcement-banner-tick", "n_intervals"))
def refresh_banner(_tick: int | None) -> Any:
    try:
        with session(context.settings().ops_url) as opened:
            rows = [announcements.describe(row) for row in announcements.active(opened)]
    except Exception:  # the banner never breaks a page; the announcements page shows the error
        log.exception("announcements unavailable")
        return None
    return banner_lines(rows) or None
