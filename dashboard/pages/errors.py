"""The global error view: a table of pies, rows and columns two of the error keys, each pie split
by a third key and sized by its count: every step error (the error table), or failed jobs by their
first error (the overview's count), switched by `count`. Below it, the top error signatures per
exit code with a real message each, and failures by retry count. Clicking a pie lists what is
inside it. Controls live in the URL, as on every page.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import dash
from dash import Input, Output, State, callback, ctx, dcc, html, no_update

from dashboard import components, context, decisions, error_panels, figures, grids, suggest, timeframe, units
from dashboard.state import error_filters, params_of, query_filters, search_with
from fwjr import exit_codes
from fwjr.model import ERROR_KEYS
from fwjr.store import error_reads

GRID_MAX = 12
FILTER_KEYS = ("workflow", "site", "exit_code")
DEFAULTS = {"rows": "workflow", "columns": "site", "split": "exit_code", "tf": "24h", "count": error_panels.DEFAULT_COUNT}
CONTROLS = ("rows", "columns", "split", "tf", "count")
TIMEFRAMES = {**{k: v[0] for k, v in timeframe.WINDOWS.items()}, **{k: v for k, v in timeframe.PRESETS.items() if k != "custom"}}


def layout(**params: str) -> html.Div:
    view = {**DEFAULTS, **{k: v for k, v in params.items() if v}}
    keys = [{"label": k, "value": k} for k in ERROR_KEYS]
    return html.Div(
        [
            dcc.Location(id="errors-nav", refresh="callback-nav"),
            dcc.Location(id="errors-goto", refresh="callback-nav"),
            dcc.Store(id="errors-view", data=search_with("", **view)),
            html.H2("Errors"),
            html.Div(
                [
                    html.Div([html.Label("rows"), dcc.Dropdown(id="errors-rows", options=keys, value=view["rows"], clearable=False)], className="control"),
                    html.Div([html.Label("columns"), dcc.Dropdown(id="errors-columns", options=keys, value=view["columns"], clearable=False)], className="control"),
                    html.Div([html.Label("pies split by"), dcc.Dropdown(id="errors-split", options=keys, value=view["split"], clearable=False)], className="control"),
                    html.Div([html.Label("timeframe"), dcc.Dropdown(id="errors-tf", options=[{"label": v, "value": k} for k, v in TIMEFRAMES.items()], value=view["tf"], clearable=False)], className="control"),
                    error_panels.count_switch("errors-count", view["count"]),
                ],
                className="controls",
            ),
            html.Div([components.filter_input(k, view.get(k, ""), "errors-filter") for k in FILTER_KEYS], className="filters"),
            components.card(
                html.Span(id="errors-title"),
                components.loading(html.Div([html.Div(id="errors-status"), html.Div(id="errors-grid-box", className="graph-box")]), "errors-grid"),
                html.Span(id="errors-coverage"),
            ),
            components.card("Inside the selected pie", html.Div(components.notice("Click a pie to list its errors.", "info"), id="errors-selection")),
            components.card("Top error signatures per exit code (all step errors)", components.loading(html.Div(id="errors-signatures-box"), "errors-signatures")),
            components.card("Step errors by retry count", components.loading(html.Div(id="errors-retries-box"), "errors-retries")),
            html.Div(id="errors-sites-box"),
        ]
    )


dash.register_page(
    __name__,
    layout=layout,
    path="/errors",
    name="Errors",
    title="FWJR Monitor · errors",
    order=2,
)


@callback(
    Output("errors-nav", "search"),
    Input("errors-rows", "value"),
    Input("errors-columns", "value"),
    Input("errors-split", "value"),
    Input("errors-tf", "value"),
    Input("errors-count", "value"),
    *[Input(f"errors-filter-{k}", "value") for k in FILTER_KEYS],
    State("errors-view", "data"),
    prevent_initial_call=True,
)
def navigate(*values: Any) -> str:
    """Controls -> URL; the page is rebuilt from it."""
    trigger = ctx.triggered_id
    if trigger is None:
        return no_update
    names = CONTROLS + FILTER_KEYS
    changed = dict(zip(names, values[:-1]))
    field = trigger[len("errors-filter-"):] if trigger.startswith("errors-filter-") else trigger[len("errors-"):]
    return search_with(values[-1], **{field: changed[field] or ""})


def _view(search: str) -> dict[str, str]:
    return {**DEFAULTS, **{k: v for k, v in params_of(search).items() if v}}


def _cell_filters(view: dict[str, str]) -> dict[str, Any]:
    return error_filters({k: view[k] for k in FILTER_KEYS if view.get(k)})


@callback(
    Output("errors-grid-box", "children"),
    Output("errors-title", "children"),
    Output("errors-coverage", "children"),
    Output("errors-status", "children"),
    Input("errors-view", "data"),
)
def draw(search: str) -> tuple:
    """Top GRID_MAX rows and columns by the chosen count; pies split by the third key.

    The dcc.Graph is sent with its figure rather than laid out empty with the page, as on the
    overview (see its refresh_details).
    """
    view = _view(search)
    try:
        rows, columns, split = view["rows"], view["columns"], view["split"]
        if len({rows, columns, split}) != 3:
            raise ValueError(f"rows, columns and split must be three different keys, got {rows}, {columns}, {split}")
        count = error_panels.count_of(view)
        start, end = timeframe.preset_range(view["tf"], context.now())
        filters = _cell_filters(view)
        store = context.store()
        totals, ms_totals = components.timed(error_panels.matrix, count, store, start, end, rows, columns, None, filters)
        row_order = _top(totals, rows)
        column_order = _top(totals, columns)
        narrowed = dict(filters)
        if rows not in narrowed:
            narrowed[rows] = row_order
        if columns not in narrowed:
            narrowed[columns] = column_order
        cells, ms_cells = components.timed(error_panels.matrix, count, store, start, end, rows, columns, split, narrowed) if row_order else ([], 0.0)
    except ValueError as error:
        return _grid(figures.empty_figure("Nothing to show: fix the view above")), "Errors", "", components.failure("The view", error)
    except Exception as error:
        return _grid(figures.empty_figure("Nothing to show: the query failed")), "Errors", "", components.failure("The query", error)
    counted = sum(c["count"] for c in totals)
    noun = "failed jobs" if count == "jobs" else "step errors"
    title = f"{noun.capitalize()} by {rows} × {columns}, split by {split} (top {GRID_MAX} each; counting {error_panels.COUNTS[count]})"
    coverage = f"{units.number(counted)} {noun} · query {ms_totals + ms_cells:.0f} ms"
    if not cells:
        return _grid(figures.empty_figure("No errors in this timeframe")), title, coverage, components.notice("No errors match these filters in this timeframe.")
    return _grid(figures.pie_grid(cells, rows, columns, split, row_order, column_order)), title, coverage, None


@callback(
    Output("errors-signatures-box", "children"),
    Output("errors-retries-box", "children"),
    Input("errors-view", "data"),
)
def draw_details(search: str) -> tuple:
    """Signatures and retries always count step errors: a job's first error keeps neither."""
    view = _view(search)
    try:
        start, end = timeframe.preset_range(view["tf"], context.now())
        filters = _cell_filters(view)
        store = context.store()
        top, ms_top = components.timed(error_reads.top_signatures, store, start, end, filters)
        retries, ms_retries = components.timed(error_reads.error_matrix, store, start, end, "exit_code", "retry_count", None, filters)
    except Exception as error:
        failed = components.failure("The query", error)
        return failed, failed
    return (
        html.Div([error_panels.signatures(top, "errors-signatures"), html.Div(f"query {ms_top:.0f} ms", className="card-footer")]),
        html.Div([error_panels.retry_table(retries, "errors-retries"), html.Div(f"query {ms_retries:.0f} ms", className="card-footer")]),
    )


@callback(Output("errors-sites-box", "children"), Input("errors-view", "data"))
def site_status(search: str) -> html.Div:
    """The sites in trouble by their own jobs over the view's timeframe, with its site filter."""
    view = _view(search)
    try:
        start, end = timeframe.preset_range(view["tf"], context.now())
        filters = query_filters({"site": view["site"]}) if view.get("site") else None
    except ValueError as error:
        return components.card("Site status from the jobs", components.failure("The view", error), card_id="errors-sites")
    return decisions.site_status_card(start, end, "errors-sites", filters)


def _grid(figure: Any) -> dcc.Graph:
    return dcc.Graph(id="errors-grid", figure=figure, config={"displaylogo": False})


def _top(cells: list[dict], key: str) -> list[Any]:
    weight: dict[Any, int] = {}
    for cell in cells:
        weight[cell[key]] = weight.get(cell[key], 0) + cell["count"]
    return sorted(weight, key=lambda v: (-weight[v], str(v)))[:GRID_MAX]


@callback(
    Output("errors-selection", "children"),
    Input("errors-grid", "clickData"),
    State("errors-view", "data"),
    prevent_initial_call=True,
)
def select(click: dict | None, search: str) -> Any:
    """Everything inside the clicked pie, by the split key and the keys not shown."""
    if not click or not click.get("points"):
        return no_update
    data = click["points"][0].get("customdata")
    if not isinstance(data, list) or len(data) < 2:
        return components.notice("Could not tell which pie was clicked.", "error")
    view = _view(search)
    rows, columns, split = view["rows"], view["columns"], view["split"]
    try:
        count = error_panels.count_of(view)
        start, end = timeframe.preset_range(view["tf"], context.now())
        filters = {**_cell_filters(view), **error_filters({rows: str(data[0]), columns: str(data[1])})}
        keys = error_reads.FIRST_ERROR_KEYS if count == "jobs" else ERROR_KEYS
        detail = next(k for k in keys if k not in (rows, columns, split))
        cells, ms = components.timed(error_panels.matrix, count, context.store(), start, end, split, detail, None, filters, 500)
    except Exception as error:
        return components.failure("Listing the pie", error)
    lines = [{split: _value_text(split, c[split]), detail: _value_text(detail, c[detail]), "count": c["count"]} for c in cells]
    noun = "failed jobs" if count == "jobs" else "errors"
    hint = " · click a workflow to open its page" if "workflow" in (split, detail) else ""
    heading = html.P(f"{rows} = {data[0]}, {columns} = {data[1]} · query {ms:.0f} ms{hint}")
    columns_shown = [(split, split), (detail, detail), grids.number_column("count", noun)]
    return html.Div([heading, grids.grid("errors-selection-table", columns_shown, lines, paged=True, export="errors-selection.csv",
                                         empty="No errors in this pie.")])


def _value_text(key: str, value: Any) -> Any:
    if key == "exit_code":
        return f"{value}: {exit_codes.describe(value, failed=True)}"
    return value if value != "" else "(none)"


@callback(
    Output("errors-goto", "href"),
    Input(grids.grid_id("errors-selection-table"), "cellClicked"),
    prevent_initial_call=True,
)
def open_workflow(cell: dict | None) -> Any:
    """A click on a workflow in the selection opens its workflow page."""
    if not cell or cell.get("colId") != "workflow" or cell.get("value") in (None, "(none)"):
        return no_update
    return "/workflow?" + urlencode({"name": cell["value"]})


suggest.register("errors-filter", FILTER_KEYS, "errors-view", lambda search: timeframe.preset_range(_view(search)["tf"], context.now()))
