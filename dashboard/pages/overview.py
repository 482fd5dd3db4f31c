"""Live overview (home page): is production healthy right now, and if not, where does it hurt?

Refreshes itself every REFRESH_MS without reloading; the interval stays well above the
callbacks' p99 (see bench/) so no update is dropped.
"""

from __future__ import annotations

from urllib.parse import urlencode

import dash
import plotly.graph_objects as go
from dash import Input, Output, callback, dcc, html

from dashboard import components, context, decisions, timeframe, units
from dashboard.figures import empty_figure, utc_text
from dashboard.outage_bands import add_outage_bands
from fwjr import exit_codes
from fwjr.store import alerts, reads, sql

REFRESH_MS = 5000
TOP_N = 8
DEFAULT_WINDOW = "1h"
_OUTPUTS = (
    "overview-jobs", "overview-failure-rate", "overview-efficiency", "overview-wasted",
    "overview-jobs-foot", "overview-failure-rate-foot", "overview-efficiency-foot", "overview-wasted-foot",
)


def layout(**_: str) -> html.Div:
    """The page with its headline numbers already filled in (two queries), so they are on screen with
    the page, before the charts' callback has run; the timer refreshes them."""
    kpis = [
        ("Jobs finished", "overview-jobs"),
        ("Failure rate", "overview-failure-rate"),
        ("CPU efficiency", "overview-efficiency"),
        ("Core-hours wasted by failed jobs", "overview-wasted"),
    ]
    *values, freshness, freshness_class, status = _numbers(DEFAULT_WINDOW)
    filled = dict(zip(_OUTPUTS, values))
    return html.Div(
        [
            html.Div(
                [
                    html.H2("Live overview"),
                    dcc.RadioItems(
                        id="overview-window",
                        options=[{"label": text, "value": key} for key, (text, _) in timeframe.WINDOWS.items()],
                        value=DEFAULT_WINDOW,
                        inline=True,
                        className="window-picker",
                    ),
                    html.Span(freshness, id="overview-freshness", className=freshness_class),
                ],
                className="page-head",
            ),
            html.Div(status, id="overview-status"),
            html.Div(
                [
                    components.card(title, html.Div(filled[key], id=key, className="kpi"), html.Span(filled[f"{key}-foot"], id=f"{key}-foot"))
                    for title, key in kpis
                ],
                className="kpis",
            ),
            html.Div(
                [
                    components.card("Jobs finished per minute", html.Div(id="overview-throughput-box", className="graph-box")),
                    components.card("Failure rate and CPU efficiency", html.Div(id="overview-rates-box", className="graph-box")),
                ],
                className="grid-2",
            ),
            html.Div(
                [
                    components.card("Top failing exit codes", html.Div(id="overview-top-codes")),
                    components.card("Top failing sites", html.Div(id="overview-top-sites")),
                    components.card("Top failing workflows", html.Div(id="overview-top-workflows")),
                ],
                className="grid-3",
            ),
            html.Div(id="overview-sites-box"),
            dcc.Interval(id="overview-tick", interval=REFRESH_MS),
        ]
    )


dash.register_page(
    __name__,
    layout=layout,
    path="/",
    name="Overview",
    title="FWJR Monitor · overview",
    order=0,
)


@callback(Output("overview-sites-box", "children"), Input("overview-window", "value"))
def site_status(window: str) -> html.Div:
    """The sites in trouble by their own jobs, on each change of window (not every tick: a
    site's status over an hour does not change in five seconds)."""
    return decisions.site_status_card(*timeframe.preset_range(window, context.now()), "overview-sites")


@callback(
    *[Output(key, "children") for key in _OUTPUTS],
    Output("overview-freshness", "children"),
    Output("overview-freshness", "className"),
    Output("overview-status", "children"),
    Input("overview-tick", "n_intervals"),
    Input("overview-window", "value"),
    prevent_initial_call=True,
)
def refresh_numbers(_tick: int | None, window: str) -> tuple:
    """The headline numbers and the feed's freshness, on every tick and change of window (the
    page's layout fills them the first time)."""
    return _numbers(window)


def _numbers(window: str) -> tuple:
    """The headline numbers and the feed's freshness (two queries)."""
    now = context.now()
    store = context.store()
    try:
        start, end = timeframe.preset_range(window, now)
        last, _ = components.timed(reads.last_seen, store)
        summary, ms = components.timed(reads.headline, store, start, end)
    except Exception as error:  # shown on the page; the next tick retries
        failed = components.failure("Refreshing the overview", error)
        return ("–",) * 4 + ("",) * 4 + ("store unreachable", "freshness freshness-red", failed)
    age = None if last is None else now - last
    jobs = summary["jobs"]
    foot = components.coverage(jobs, ms)
    kpis = (
        units.number(jobs),
        units.format_value("failure_rate", summary["failure_rate"]),
        units.format_value("cpu_efficiency", summary["cpu_efficiency"]),
        units.format_value("wasted_core_hours", summary["wasted_core_hours"]),
        foot,
        foot,
        components.coverage(jobs, ms, summary["core_hours_count"]),
        components.coverage(jobs, ms, summary["wasted_core_hours_count"]),
    )
    status = components.notice(f"No jobs finished in the {timeframe.WINDOWS[window][0].lower()}.", "info") if not jobs else None
    freshness = (components.freshness_text(age), f"freshness freshness-{components.freshness_level(age)}")
    return (*kpis, *freshness, status)


@callback(
    Output("overview-throughput-box", "children"),
    Output("overview-rates-box", "children"),
    Output("overview-top-codes", "children"),
    Output("overview-top-sites", "children"),
    Output("overview-top-workflows", "children"),
    Input("overview-tick", "n_intervals"),
    Input("overview-window", "value"),
)
def refresh_details(_tick: int | None, window: str) -> tuple:
    """The time series and the top failing codes, sites and workflows (four queries).

    The charts' dcc.Graph components are sent with their first figures, not laid out empty with
    the page: without the cartesian bundle (dashboard/plotly_bundle.py) a Graph in the layout makes
    dcc fetch and evaluate the full plotly.js (4.8 MB, ~1 s of main thread here) before the headline
    numbers are painted.
    """
    now = context.now()
    store = context.store()
    try:
        start, end = timeframe.preset_range(window, now)
        precision = timeframe.display_precision(start, end, now, sql.ladder(context.settings()))
        buckets, series_ms = components.timed(reads.headline_series, store, start, end, precision)
        codes, codes_ms = components.timed(reads.top, store, start, end, "exit_code", "failed", TOP_N + 1)
        sites, sites_ms = components.timed(reads.top, store, start, end, "site", "failed", TOP_N)
        workflows, workflows_ms = components.timed(reads.top, store, start, end, "workflow", "failed", TOP_N)
        outages = alerts.outage_windows(store, start, end)
    except Exception as error:
        failed = components.failure("Refreshing the charts", error)
        return _graph("overview-throughput", empty_figure("No data: the query failed")), _graph("overview-rates", empty_figure("No data: the query failed")), failed, "", ""
    return (
        _graph("overview-throughput", _throughput(buckets, precision, series_ms)),
        _graph("overview-rates", add_outage_bands(_rates(buckets, precision), outages if buckets else [], end)),
        _codes_table(codes, codes_ms),
        _key_table("site", sites, sites_ms),
        _key_table("workflow", workflows, workflows_ms),
    )


def _graph(graph_id: str, figure: go.Figure) -> dcc.Graph:
    return dcc.Graph(id=graph_id, figure=figure, config={"displaylogo": False})


def _throughput(buckets: list[dict], precision: str, ms: float) -> go.Figure:
    if not buckets:
        return empty_figure("No jobs in this window")
    per_minute = timeframe.step_seconds(precision) / 60
    x = [utc_text(b["bucket"]) for b in buckets]
    figure = go.Figure(
        [
            go.Scatter(x=x, y=[(b["jobs"] - b["failed"]) / per_minute for b in buckets], name="succeeded", stackgroup="jobs", line=dict(color="#2a9d8f")),
            go.Scatter(x=x, y=[b["failed"] / per_minute for b in buckets], name="failed", stackgroup="jobs", line=dict(color="#e76f51")),
        ]
    )
    figure.update_layout(
        margin=dict(l=50, r=10, t=10, b=40), height=300, legend=dict(orientation="h", y=-0.2),
        yaxis=dict(title="jobs / min"), xaxis=dict(title=f"UTC, per {precision} · query {ms:.0f} ms"),
    )
    return figure


def _rates(buckets: list[dict], precision: str) -> go.Figure:
    if not buckets:
        return empty_figure("No jobs in this window")
    x = [utc_text(b["bucket"]) for b in buckets]
    figure = go.Figure(
        [
            go.Scatter(x=x, y=[_percent(b["failure_rate"]) for b in buckets], name="failure rate", line=dict(color="#e76f51")),
            go.Scatter(x=x, y=[_percent(b["cpu_efficiency"]) for b in buckets], name="CPU efficiency", line=dict(color="#264653")),
        ]
    )
    figure.update_layout(
        margin=dict(l=50, r=10, t=10, b=40), height=300, legend=dict(orientation="h", y=-0.2),
        yaxis=dict(title="%", rangemode="tozero"), xaxis=dict(title=f"UTC, per {precision}"),
    )
    return figure


def _codes_table(rows: list[dict], ms: float) -> html.Div:
    failing = [r for r in rows if r["value"]][:TOP_N]
    cells = []
    for row in failing:
        code = row["exit_code"]
        action = exit_codes.procedure(code)
        link = dcc.Link(str(code), href="/explorer?" + urlencode({"exit_code": code, "tf": "last7d", "x": "site", "by": "workflow", "metric": "failed"}))
        cells.append([link, exit_codes.describe(code, failed=True), units.number(row["value"]), action.normal if action else "–"])
    return html.Div(
        [
            components.table(["exit code", "description", "failed jobs", "first action"], cells, "overview-codes-table", "No failed jobs in this window."),
            html.Div(f"query {ms:.0f} ms", className="card-footer"),
        ]
    )


def _key_table(key: str, rows: list[dict], ms: float) -> html.Div:
    failing = [r for r in rows if r["value"]]
    cells = []
    for row in failing:
        value = row[key]
        if key == "workflow":
            target = dcc.Link(value or "(none)", href="/workflow?" + urlencode({"name": value}))
        else:
            target = dcc.Link(value or "(none)", href="/explorer?" + urlencode({key: value, "tf": "last7d", "x": "exit_code", "by": "workflow", "metric": "failed"}))
        rate = row["value"] / row["jobs"] if row["jobs"] else None
        cells.append([target, units.number(row["value"]), units.format_value("failure_rate", rate)])
    return html.Div(
        [
            components.table([key, "failed jobs", "failure rate"], cells, f"overview-{key}-table", "No failed jobs in this window."),
            html.Div(f"query {ms:.0f} ms", className="card-footer"),
        ]
    )


def _percent(ratio: float | None) -> float | None:
    return None if ratio is None else ratio * 100
