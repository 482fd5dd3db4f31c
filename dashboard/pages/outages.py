"""Outages and alerts: service states and planned maintenance over the failure rate, alerts with
their evidence, and the failure correlation (is it a service problem to retry, or a code problem
to debug?).
"""

from __future__ import annotations

import json
from typing import Any

import dash
import plotly.graph_objects as go
from dash import Input, Output, callback, dcc, html
from plotly.subplots import make_subplots

from dashboard import components, context, timeframe, units
from dashboard.figures import empty_figure, plot_text, utc_text
from dashboard.outage_bands import STATE_LINES, add_outage_bands
from fwjr import exit_codes
from fwjr.alerting.correlate import correlate_store
from fwjr.store import alerts as store_alerts
from fwjr.store import reads, sql

REFRESH_MS = 15_000
ALERT_LIMIT = 100
# How far ahead planned maintenance is listed.
MAINTENANCE_AHEAD = 7 * 86400


def layout(**_: str) -> html.Div:
    return html.Div(
        [
            html.Div(
                [
                    html.H2("Outages and alerts"),
                    dcc.RadioItems(
                        id="outages-window",
                        options=[{"label": text, "value": key} for key, (text, _) in timeframe.WINDOWS.items()],
                        value="24h",
                        inline=True,
                        className="window-picker",
                    ),
                ],
                className="page-head",
            ),
            html.Div(id="outages-status"),
            components.card("Service states over the failure rate", dcc.Graph(id="outages-timeline", config={"displaylogo": False})),
            components.card("Alerts (firing first, then the most recent)", html.Div(id="outages-alerts")),
            html.Div(
                [
                    components.card("Outage windows", html.Div(id="outages-windows"), html.Span(id="outages-rejects")),
                    components.card("Failures inside outages, per exit code", html.Div(id="outages-verdicts")),
                ],
                className="grid-2",
            ),
            components.card("Planned maintenance (this window and the week ahead)", html.Div(id="outages-maintenance")),
            dcc.Interval(id="outages-tick", interval=REFRESH_MS),
        ]
    )


dash.register_page(__name__, layout=layout, path="/outages", name="Outages", title="FWJR Monitor · outages and alerts", order=5)


@callback(
    Output("outages-timeline", "figure"),
    Output("outages-alerts", "children"),
    Output("outages-windows", "children"),
    Output("outages-verdicts", "children"),
    Output("outages-status", "children"),
    Output("outages-rejects", "children"),
    Output("outages-maintenance", "children"),
    Input("outages-tick", "n_intervals"),
    Input("outages-window", "value"),
)
def refresh(_tick: int | None, window: str) -> tuple:
    now = context.now()
    store = context.store()
    try:
        start, end = timeframe.preset_range(window, now)
        precision = timeframe.display_precision(start, end, now, sql.ladder(context.settings()))
        series = reads.headline_series(store, start, end, precision)
        outages = store_alerts.outage_windows(store, start, end)
        planned = store_alerts.maintenance_windows(store, start, end + MAINTENANCE_AHEAD)
        alerts = store_alerts.alert_history(store, start, ALERT_LIMIT)
        report = correlate_store(store, start, end, now, None, sql.ladder(context.settings())) if outages else None
        rejects = store_alerts.status_reject_counts(store, start, end)
    except Exception as error:  # shown on the page; the next tick retries
        failed = components.failure("Loading outages and alerts", error)
        return empty_figure("No data: the query failed"), None, None, None, failed, None, None
    return (
        timeline(series, outages, precision, end, [p for p in planned if p["start"] < end]),
        alerts_view(alerts),
        outages_table(outages, now),
        verdicts_table(report),
        None,
        rejects_text(rejects),
        maintenance_table(planned, now),
    )


def timeline(series: list[dict], outages: list[dict], precision: str, end: int, planned: list[dict] | None = None) -> go.Figure:
    """Failure rate on top with outage bands; one row per service below, coloured by state, with
    its planned maintenance as a dotted line beside its outages."""
    planned = planned or []
    if not series and not outages and not planned:
        return empty_figure("No jobs and no outages in this window")
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.05)
    figure.add_trace(
        go.Scatter(
            x=[utc_text(b["bucket"]) for b in series],
            y=[None if b["failure_rate"] is None else b["failure_rate"] * 100 for b in series],
            name="failure rate",
            line=dict(color="#e76f51"),
        ),
        row=1, col=1,
    )
    add_outage_bands(figure, outages, end, row=1)
    shown: set[str] = set()
    for outage in outages:
        stop = outage["end"] if outage["end"] is not None else end
        state = outage["state"]
        figure.add_trace(
            go.Scatter(
                x=[utc_text(outage["start"]), utc_text(stop)],
                y=[plot_text(outage["service"])] * 2,
                mode="lines",
                line=dict(color=STATE_LINES.get(state, "#888"), width=14),
                name=state,
                legendgroup=state,
                showlegend=state not in shown,
                hovertext=plot_text(f"{outage['service']} {state}: {outage.get('message') or ''}"),
            ),
            row=2, col=1,
        )
        shown.add(state)
    for window in planned:
        figure.add_trace(
            go.Scatter(
                x=[utc_text(window["start"]), utc_text(min(window["end"], end))],
                y=[plot_text(window["service"])] * 2,
                mode="lines",
                line=dict(color=STATE_LINES["maintenance"], width=6, dash="dot"),
                name="maintenance",
                legendgroup="maintenance",
                showlegend="maintenance" not in shown,
                hovertext=plot_text(f"{window['service']} maintenance: {window.get('message') or ''}"),
            ),
            row=2, col=1,
        )
        shown.add("maintenance")
    figure.update_layout(
        margin=dict(l=60, r=10, t=20, b=40), height=420, legend=dict(orientation="h", y=-0.12),
        yaxis=dict(title="failure rate %", rangemode="tozero"), xaxis2=dict(title=f"UTC, per {precision}"),
    )
    return figure


def _evidence(alert: dict) -> html.Div:
    evidence = alert["evidence"] if isinstance(alert["evidence"], dict) else json.loads(alert["evidence"])
    causes = evidence.get("suspected_causes") or []
    codes = evidence.get("top_exit_codes") or []
    parts: list[Any] = [
        html.Div(
            f"failure rate {evidence['rate']:.1%} vs baseline {evidence['baseline']:.1%} "
            f"({evidence['failures']} of {evidence['jobs']} jobs in {evidence['window_minutes']} min, "
            f"{evidence['expected']:.0f} expected, score {evidence['z']})"
        ),
        html.Div(
            "suspected cause: " + (", ".join(f"{c['service']} {c['state']} from {utc_text(c['start'])}" for c in causes) or "no overlapping outage"),
            className="procedure-action" if causes else "hint",
        ),
    ]
    for code in codes:
        steps = code.get("procedure")
        line = f"exit code {code['exit_code']} ({code['failures']}): {code['description']}"
        if steps:
            line += f" — cause: {steps['cause']}; procedure: {steps['normal']}"
        parts.append(html.Div(line, className="snippet-head"))
    if alert.get("members"):
        parts.append(html.Div("also moved: " + ", ".join(alert["members"]), className="hint"))
    return html.Div(parts)


def alerts_view(alerts: list[dict]) -> Any:
    """Firing alerts first, then resolved ones, newest first, each with its evidence."""
    ordered = sorted(alerts, key=lambda a: (a["resolved"] is not None, -a["fired"]))
    rows = []
    for alert in ordered:
        scope = "all jobs" if alert["scope"] == "all" else f"{alert['scope']}={alert['value']}"
        state = html.Span(alert["state"], className="freshness " + ("freshness-red" if alert["resolved"] is None else "freshness-ok"))
        resolved = utc_text(alert["resolved"]) if alert["resolved"] else "–"
        rows.append([state, html.Code(scope), utc_text(alert["fired"]), resolved, _evidence(alert)])
    return components.table(["state", "scope", "fired (UTC)", "resolved (UTC)", "evidence"], rows, "outages-alerts-table", "No alerts in this window.")


def outages_table(outages: list[dict], now: int) -> Any:
    """When each service stopped working and for how long."""
    rows = []
    for outage in sorted(outages, key=lambda o: -o["start"]):
        stop = outage["end"] if outage["end"] is not None else now
        rows.append([
            outage["service"], outage["state"], utc_text(outage["start"]),
            utc_text(outage["end"]) if outage["end"] else "ongoing", units.hms(stop - outage["start"]),
            outage.get("message") or "",
        ])
    return components.table(["service", "state", "start (UTC)", "end (UTC)", "duration", "message"], rows, "outages-windows-table", "No outages in this window.")


def maintenance_table(planned: list[dict], now: int) -> Any:
    """Planned downtimes: alerts whose suspected cause or site is under maintenance are not paged."""
    rows = []
    for window in planned:
        when = "under way" if window["start"] <= now < window["end"] else ("ahead" if window["start"] > now else "over")
        rows.append([window["service"], when, utc_text(window["start"]), utc_text(window["end"]),
                     units.hms(window["end"] - window["start"]), window.get("message") or ""])
    return components.table(["service", "", "start (UTC)", "end (UTC)", "duration", "message"], rows, "outages-maintenance-table",
                            "No maintenance planned in this window or the week ahead.")


def verdicts_table(report: dict | None) -> Any:
    """Per exit code: rate inside outages vs outside, excess, and the verdict (retry or debug)."""
    if report is None:
        return components.notice("No outages in this window: nothing to correlate.")
    rows = []
    for verdict in report["exit_codes"][:15]:
        code = verdict["exit_code"]
        rows.append([
            str(code), exit_codes.describe(code), f"{verdict['rate_in']:.2%}", f"{verdict['rate_out']:.2%}",
            units.number(round(verdict["excess"])), verdict["verdict"],
        ])
    return components.table(["exit code", "description", "rate inside", "rate outside", "excess failures", "verdict"], rows, "outages-verdicts-table", "No failures in this window.")


def rejects_text(rejects: dict[str, int]) -> str:
    """Rejected status events in the window, by reason: bad input from other monitoring is visible."""
    if not rejects:
        return "no status events rejected in this window"
    return f"{units.number(sum(rejects.values()))} status events rejected: " + "; ".join(f"{reason} ({count})" for reason, count in rejects.items())
