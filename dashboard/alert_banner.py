"""The banner shown on every page while an alert fires or a service is down or degraded.

Its own small callback on a timer, reading two cheap queries (alerts still firing, outages
still open), so any page gets it by including `banner()` once in the shell.
"""

from __future__ import annotations

from typing import Any

from dash import Input, Output, callback, dcc, html

from dashboard import context
from dashboard.figures import utc_text
from fwjr.store import alerts as store_alerts

REFRESH_MS = 10_000
LOOKBACK_SECONDS = 30 * 86400


def banner() -> html.Div:
    """The banner's placeholder and timer; empty (hidden) while all is well."""
    return html.Div([html.Div(id="alert-banner"), dcc.Interval(id="alert-banner-tick", interval=REFRESH_MS)])


def banner_items(alerts: list[dict], outages: list[dict]) -> list[str]:
    """One line per firing alert and per open outage, most recent first."""
    lines = []
    for alert in alerts:
        if alert["resolved"] is None:
            scope = "all jobs" if alert["scope"] == "all" else f"{alert['scope']} {alert['value']}"
            lines.append(f"Alert firing: error-rate spike at {scope} since {utc_text(alert['fired'])} UTC")
    for outage in outages:
        if outage["end"] is None:
            lines.append(f"{outage['service']} is {outage['state']} since {utc_text(outage['start'])} UTC")
    return lines


@callback(Output("alert-banner", "children"), Input("alert-banner-tick", "n_intervals"))
def refresh_banner(_tick: int | None) -> Any:
    now = context.now()
    store = context.store()
    try:
        alerts = store_alerts.alert_history(store, now - LOOKBACK_SECONDS, limit=50)
        outages = store_alerts.outage_windows(store, now - LOOKBACK_SECONDS, now + 1)
    except Exception:  # the banner never breaks a page; the outages page shows the error
        return None
    lines = banner_items(alerts, outages)
    if not lines:
        return None
    return html.Div(
        [html.Strong("⚠ "), " · ".join(lines), " — ", dcc.Link("see outages and alerts", href="/outages")],
        className="alert-banner",
        role="alert",
        id="alert-banner-text",
    )
