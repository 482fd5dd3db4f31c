"""Performance explorer: any measure, by any scope key or time, filtered by value or regex.

The URL is the single source of truth: every control and every click writes the URL
(dcc.Location, refresh="callback-nav"), the page is rebuilt from it, and the chart is
drawn from the view stored in the page. A copied link therefore restores the same view.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import dash
from dash import Input, Output, State, callback, ctx, dcc, html, no_update

from dashboard import components, context, figures, performance, suggest, timeframe, units
from dashboard.state import TIME_AXIS, View, params_of, parse_view, view_search
from fwjr.model import SCOPE_KEYS
from fwjr.store import sql

SUGGESTIONS = 30
_CONTROLS = ("tf", "from", "to", "metric", "stat", "x", "by")


def layout(**params: str) -> html.Div:
    try:
        view = parse_view(params)
    except ValueError as error:
        view = View()
        problem: Any = components.notice(f"The link's view could not be read: {error}", "error")
    else:
        problem = None
    stats = _stat_options(view.metric)
    return html.Div(
        [
            dcc.Location(id="explorer-nav", refresh="callback-nav"),
            dcc.Store(id="explorer-view", data=view_search(view)),
            html.H2("Performance explorer"),
            html.Div(problem, id="explorer-link-problem"),
            html.Div([components.filter_input(k, view.filters.get(k, ""), "explorer-filter") for k in SCOPE_KEYS], className="filters"),
            html.Div(
                [
                    _labelled("timeframe", dcc.Dropdown(id="explorer-tf", options=[{"label": v, "value": k} for k, v in timeframe.PRESETS.items()], value=view.tf, clearable=False)),
                    _labelled("from (UTC)", dcc.Input(id="explorer-from", value=view.start, debounce=True, placeholder="2026-11-01T00:00:00Z")),
                    _labelled("to (UTC)", dcc.Input(id="explorer-to", value=view.end, debounce=True, placeholder="2026-11-08T00:00:00Z")),
                    _labelled("metric", dcc.Dropdown(id="explorer-metric", options=_metric_options(), value=view.metric, clearable=False)),
                    _labelled("statistic", dcc.Dropdown(id="explorer-stat", options=stats, value=_stat_value(view), clearable=False)),
                    _labelled("x axis", dcc.Dropdown(id="explorer-x", options=[{"label": a, "value": a} for a in performance.AXES], value=view.x, clearable=False)),
                    _labelled("split by", dcc.Dropdown(id="explorer-by", options=[{"label": k, "value": k} for k in SCOPE_KEYS], value=view.by or None, placeholder="(none)")),
                ],
                className="controls",
            ),
            components.card(
                html.Span(id="explorer-title"),
                components.loading(html.Div([html.Div(id="explorer-status"), html.Div(id="explorer-graph-box", className="graph-box")]), "explorer-graph"),
                html.Div(
                    [
                        html.Span(id="explorer-coverage"),
                        html.Button("◀ previous", id="explorer-prev", n_clicks=0, disabled=True),
                        html.Span(id="explorer-page-label"),
                        html.Button("next ▶", id="explorer-next", n_clicks=0, disabled=True),
                    ],
                    className="pager",
                ),
            ),
            html.P("Click a bar, slice, cell or point to filter on it. Filters take a value or ~regex (re2). The address bar holds the whole view: copy it to share.", className="hint"),
        ]
    )


dash.register_page(
    __name__,
    layout=layout,
    path="/explorer",
    name="Performance explorer",
    title="FWJR Monitor · performance",
    order=1,
)


def _labelled(text: str, control: Any) -> html.Div:
    return html.Div([html.Label(text), control], className="control")


def _stat_value(view: View) -> str | None:
    if view.stat:
        return view.stat
    known = {m["id"] for m in units.measures()}
    return units.default_stat(view.metric) if view.metric in known else None


def _metric_options() -> list[dict[str, str]]:
    return [{"label": f"{m['title']}{' [' + m['unit'] + ']' if m['unit'] and m['unit'] != 'ratio' else ''}", "value": m["id"]} for m in units.measures()]


def _stat_options(metric: str) -> list[dict[str, str]]:
    names = {"sum": "total", "avg": "job-weighted mean"}
    for measure in units.measures():
        if measure["id"] == metric:
            return [{"label": names[s], "value": s} for s in measure["stats"].split(",")]
    return [{"label": names[s], "value": s} for s in names]


@callback(
    Output("explorer-nav", "search"),
    *[Input(f"explorer-filter-{k}", "value") for k in SCOPE_KEYS],
    *[Input(f"explorer-{c}", "value") for c in _CONTROLS],
    Input("explorer-prev", "n_clicks"),
    Input("explorer-next", "n_clicks"),
    Input("explorer-graph", "clickData"),
    State("explorer-view", "data"),
    prevent_initial_call=True,
)
def navigate(*values: Any) -> str:
    """Any control or click -> the new view's URL (the page is then rebuilt from it)."""
    current = parse_view(params_of(values[-1]))
    trigger = ctx.triggered_id
    if trigger is None:
        return no_update
    if trigger.startswith("explorer-filter-"):
        key = trigger[len("explorer-filter-"):]
        value = values[SCOPE_KEYS.index(key)] or ""
        return view_search(current.with_filters(**{key: value}))
    controls = dict(zip(_CONTROLS, values[len(SCOPE_KEYS): len(SCOPE_KEYS) + len(_CONTROLS)]))
    if trigger == "explorer-prev":
        return view_search(replace(current, page=max(current.page - 1, 0)))
    if trigger == "explorer-next":
        return view_search(replace(current, page=current.page + 1))
    if trigger == "explorer-graph":  # the Graph is mounted by `draw`: its arrival is no click
        return view_search(_drill(current, values[-2])) if values[-2] else no_update
    field = trigger[len("explorer-"):]
    return view_search(_apply_control(current, field, controls[field]))


def _apply_control(view: View, field: str, value: Any) -> View:
    value = "" if value is None else str(value)
    if field == "tf":
        return replace(view, tf=value, page=0, **({} if value == "custom" else {"start": "", "end": ""}))
    if field in ("from", "to"):
        changed = replace(view, **{"start" if field == "from" else "end": value}, page=0)
        return replace(changed, tf="custom") if changed.start and changed.end else changed
    if field == "metric":
        return replace(view, metric=value, stat="", page=0)
    if field == "by":
        return replace(view, by=value, page=0)
    return replace(view, **{field: value}, page=0)


def _drill(view: View, click: dict | None) -> View:
    """A clicked point's raw key values become filters (a time point zooms to its bucket)."""
    if not click or not click.get("points"):
        return view
    point = click["points"][0]
    data = point.get("customdata")
    if not isinstance(data, list) or not data:
        return view
    if view.x == TIME_AXIS:
        start = int(data[0])
        ladder = sql.ladder(context.settings())
        end_guess = timeframe.resolve(view.tf, view.start, view.end, context.now())
        precision = timeframe.display_precision(*end_guess, context.now(), ladder)
        zoomed = replace(view, tf="custom", start=str(start), end=str(start + timeframe.step_seconds(precision)), page=0)
        return zoomed.with_filters(**{view.by: str(data[1])}) if view.by and len(data) > 1 and data[1] != "" else zoomed
    changes = {view.x: str(data[0])}
    if view.by and len(data) > 1 and data[1] != "":
        changes[view.by] = str(data[1])
    return view.with_filters(**changes)


@callback(
    Output("explorer-graph-box", "children"),
    Output("explorer-title", "children"),
    Output("explorer-coverage", "children"),
    Output("explorer-page-label", "children"),
    Output("explorer-prev", "disabled"),
    Output("explorer-next", "disabled"),
    Output("explorer-status", "children"),
    Input("explorer-view", "data"),
)
def draw(search: str) -> tuple:
    """The chart of the view in the URL, in the shape its data calls for.

    The dcc.Graph is sent with its figure rather than laid out empty with the page, as on the
    overview (see its refresh_details).
    """
    try:
        view = parse_view(params_of(search))
        result = performance.explore(context.store(), view, context.now(), sql.ladder(context.settings()))
    except ValueError as error:
        return _graph(figures.empty_figure("Nothing to show: fix the view above")), "Performance", "", "", True, True, components.failure("The view", error)
    except Exception as error:
        return _graph(figures.empty_figure("Nothing to show: the query failed")), "Performance", "", "", True, True, components.failure("The query", error)
    title = f"{units.title_of(result.measure, result.stat)} by {result.x}" + (f" and {result.by}" if result.by else "")
    total = result.total
    covered = total.get("covered") if result.measure not in units.BOARD_MEASURES else None
    coverage = f"{units.format_value(result.measure, total.get('value'))} overall · " + components.coverage(total.get("jobs") or 0, result.query_ms, covered)
    page = f"page {result.page + 1}" if result.shape in ("bars", "heatmap", "pie") else ""
    status = None
    if not total.get("jobs"):
        status = components.notice("No jobs match these filters in this timeframe.")
        figure = figures.empty_figure("No jobs match these filters in this timeframe")
    else:
        figure = _figure(result)
    return _graph(figure), title, coverage, page, result.page == 0, not result.has_more, status


def _graph(figure: Any) -> dcc.Graph:
    return dcc.Graph(id="explorer-graph", figure=figure, config={"displaylogo": False})


def _figure(result: performance.Exploration) -> Any:
    if result.shape == "time":
        if not result.rows:
            return figures.empty_figure("No values of this metric in this timeframe")
        return figures.time_series(result.rows, result.measure, result.stat, result.by, result.precision or "hour")
    if not result.rows:
        return figures.empty_figure("Nothing on this page")
    if result.shape == "pie":
        return figures.pie(result.rows, result.x, result.measure, result.stat)
    if result.shape == "heatmap":
        return figures.heatmap(result.rows, result.x, result.by or "", result.measure, result.stat, result.x_order, result.by_order)
    return figures.bars(result.rows, result.x, result.by, result.measure, result.stat, result.x_order)


def _window(search: str) -> tuple[int, int]:
    view = parse_view(params_of(search))
    return timeframe.resolve(view.tf, view.start, view.end, context.now())


suggest.register("explorer-filter", SCOPE_KEYS, "explorer-view", _window)
