"""The triage queue: every failing workflow of the window with the decision an operator has to make,
ranked by the core-hours its failures wasted (or by failures), similar workflows kept together so
that one decision can be taken for a group. A row's evidence at a glance: verdict, remedy, rule,
top exit codes, the share of failures inside outage windows, the failing sites with their status.
Clicking a row opens its summary, with the links to its workflow page and to the form there.
The whole view (window, ranking, filters) is in the URL. The controls are served first and a
callback fills the queue. A rolling window's decisions come from the board's snapshot of its
triage, refreshed in the background every triage_refresh_seconds (a first view of a window, and a
custom range, wait for its triage: seconds on a big store, docs/performance.md). A filter selects
workflows and lists each with its whole decision (dashboard.decisions, fwjr.triage.select).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode
from weakref import WeakKeyDictionary

import dash
from dash import Input, Output, State, callback, ctx, dcc, html, no_update

from dashboard import components, context, decisions, grids, suggest, timeframe, units
from dashboard.state import params_of, query_filters, search_with
from fwjr.triage.decide import Decision
from fwjr.triage.snapshot import Snapshot

FILTER_KEYS = ("workflow", "site", "exit_code")
RANKINGS = {"wasted": "wasted core-hours", "failed": "failed jobs"}
WINDOWS = {**{k: v[0] for k, v in timeframe.WINDOWS.items()}, "custom": "Custom (from, to)"}
DEFAULTS = {"tf": "24h", "rank": "wasted"}
FILTER_HINT = ("A filter lists the workflows failing with it, each with its whole decision (over all its jobs): "
               "site, the workflows with failed jobs there; exit code, those with step errors of that code (at that site when both are given); "
               "workflow, by name. ~pattern is an re2 regular expression, searched anywhere in the value.")
GRID = "triage-queue"
_ROWS: WeakKeyDictionary[Snapshot, dict[str, dict[str, Any]]] = WeakKeyDictionary()  # a snapshot's rows, by workflow
SITES_AT_A_GLANCE = 3  # in the row; all of them on hover and in the selected row's summary
COLUMNS: tuple[grids.Column, ...] = (
    grids.number_column("position", "#", maxWidth=70),
    {"field": "group", "headerName": "group", "maxWidth": 100},
    {"field": "workflow", "headerName": "workflow", "minWidth": 260, "tooltipField": "workflow"},
    {"field": "verdict", "headerName": "verdict", "maxWidth": 120},
    {"field": "remedy", "headerName": "remedy"},
    {"field": "rule", "headerName": "rule"},
    grids.number_column("failed", "failed"),
    grids.number_column("failure_rate", "failure rate %"),
    grids.number_column("wasted_core_hours", "wasted core-h"),
    {"field": "top_exit_codes", "headerName": "top exit codes", "minWidth": 150},
    grids.number_column("outage_share", "in outages %"),
    {"field": "sites", "headerName": "failing sites (status)", "minWidth": 260, "tooltipField": "all_sites"},
    {"field": "similar", "headerName": "similar", "maxWidth": 110},
)


def layout(**params: str) -> html.Div:
    """The page's controls; `draw` fills the queue."""
    view = {**DEFAULTS, **{k: v for k, v in params.items() if v}}
    search = search_with("", **view)
    return html.Div(
        [
            dcc.Location(id="triage-nav", refresh="callback-nav"),
            dcc.Store(id="triage-view", data=search),
            dcc.Store(id="triage-decisions"),
            html.H2("Triage queue"),
            html.Div(
                [
                    html.Div([html.Label("timeframe"), dcc.Dropdown(id="triage-tf", options=[{"label": v, "value": k} for k, v in WINDOWS.items()],
                                                                     value=view["tf"] if view["tf"] in WINDOWS else DEFAULTS["tf"], clearable=False)], className="control"),
                    html.Div([html.Label("from (UTC)"), dcc.Input(id="triage-from", value=view.get("from", ""), debounce=True, placeholder="ISO time or epoch")], className="control"),
                    html.Div([html.Label("to (UTC)"), dcc.Input(id="triage-to", value=view.get("to", ""), debounce=True, placeholder="ISO time or epoch")], className="control"),
                    html.Div([html.Label("rank by"), dcc.RadioItems(id="triage-rank", options=[{"label": v, "value": k} for k, v in RANKINGS.items()],
                                                                   value=view["rank"] if view["rank"] in RANKINGS else DEFAULTS["rank"], inline=True)], className="control"),
                ],
                className="controls",
            ),
            html.Div([components.filter_input(k, view.get(k, ""), "triage-filter") for k in FILTER_KEYS], className="filters"),
            html.P(FILTER_HINT, className="hint", id="triage-filter-hint"),
            html.Div(id="triage-status"),
            components.card(
                "Failing workflows, similar ones grouped",
                components.loading(grids.grid(GRID, COLUMNS, [], row_id="workflow", paged=True, export="triage-queue.csv", empty=None), GRID),
                html.Span(id="triage-coverage"),
            ),
            components.card("Selected workflow", html.Div(components.notice("Click a row to see its decision and decide on its workflow page.", "info"),
                                                        id="triage-selected")),
            html.Div(id="triage-sites-box"),
        ]
    )


dash.register_page(__name__, layout=layout, path="/triage", name="Triage", title="FWJR Monitor · triage", order=5)


@callback(
    Output("triage-nav", "search"),
    Input("triage-tf", "value"),
    Input("triage-from", "value"),
    Input("triage-to", "value"),
    Input("triage-rank", "value"),
    *[Input(f"triage-filter-{k}", "value") for k in FILTER_KEYS],
    State("triage-view", "data"),
    prevent_initial_call=True,
)
def navigate(*values: Any) -> str:
    """Controls -> URL; the page is rebuilt from it."""
    trigger = ctx.triggered_id
    if trigger is None:
        return no_update
    names = ("tf", "from", "to", "rank") + FILTER_KEYS
    changed = dict(zip(names, values[:-1]))
    field = trigger[len("triage-filter-"):] if trigger.startswith("triage-filter-") else trigger[len("triage-"):]
    return search_with(values[-1], **{field: (changed[field] or "").strip()})


@callback(
    Output(grids.grid_id(GRID), "rowData"),
    Output("triage-decisions", "data"),
    Output("triage-coverage", "children"),
    Output("triage-status", "children"),
    Output("triage-sites-box", "children"),
    Input("triage-view", "data"),
)
def draw(search: str) -> tuple:
    """The queue of the view in the URL, and the site status of its window."""
    stored, rows, status, coverage, ranges = _body(search)
    sites = decisions.site_status_card(*ranges, "triage-sites") if ranges else None
    return rows, stored, coverage, status, sites


def window(search: str) -> tuple[int, int]:
    """The view's [start, end): a rolling window, or from/to (which win when both are given)."""
    view = {**DEFAULTS, **{k: v for k, v in params_of(search).items() if v}}
    return timeframe.resolve(view["tf"], view.get("from"), view.get("to"), context.now(), DEFAULTS["tf"])


def _body(search: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]], Any, str, tuple[int, int] | None]:
    """(decisions as dicts in the queue's order, their grid rows, status notice, coverage line, the window) of the view.

    A rolling window's decisions come from its snapshot (the coverage line says as of when), a
    custom range's are computed for the view; the filters select workflows, each with its whole
    decision: site=X lists the workflows with failed jobs at X, exit_code=N those with step
    errors of code N (at X, with both), workflow= by name (fwjr.triage.select).
    """
    view = {**DEFAULTS, **{k: v for k, v in params_of(search).items() if v}}
    try:
        if view["rank"] not in RANKINGS:
            raise ValueError(f"rank={view['rank']!r}: expected one of {', '.join(RANKINGS)}")
        preset = timeframe.preset_of(view["tf"], view.get("from"), view.get("to"), DEFAULTS["tf"])
        start, end = window(search)
        filters = query_filters({k: view[k] for k in FILTER_KEYS if view.get(k)})
        served, ms = components.timed(decisions.decisions, preset, start, end, filters)
    except ValueError as error:
        return [], [], components.failure("The view", error), "", None
    except Exception as error:
        return [], [], components.failure("The triage", error), "", None
    ordered = _grouped(served.decisions, view["rank"])
    status = components.notice("No failing workflows match these filters in this timeframe.") if not ordered else None
    wasted = sum(d.wasted_core_hours for d in ordered)
    coverage = f"{len(ordered)} failing workflows · {units.number(round(wasted))} core-hours wasted · {served.age_text()} · query {ms:.0f} ms"
    answers = {d.workflow: answer for d, answer in zip(served.decisions, served.answers)}
    stored = [{**answers[d.workflow], "position": position} for position, d in enumerate(ordered, 1)]
    return stored, _rows(stored, served.snapshot), status, coverage, (served.start, served.end)


def _grouped(found: list[Decision], rank: str) -> list[Decision]:
    """Ranked by `rank`, each group of similar workflows kept together at its best member's place."""
    key = (lambda d: (-d.wasted_core_hours, -d.failed, d.workflow)) if rank == "wasted" else (lambda d: (-d.failed, -d.wasted_core_hours, d.workflow))
    ranked = sorted(found, key=key)
    first: dict[str, int] = {}
    for position, decision in enumerate(ranked):
        if decision.group is not None:
            first.setdefault(decision.group, position)
    return [d for _, d in sorted(enumerate(ranked), key=lambda item: (first.get(item[1].group, item[0]) if item[1].group else item[0], item[0]))]


def _rows(stored: list[dict[str, Any]], snapshot: Snapshot | None) -> list[dict[str, Any]]:
    """The grid rows of the stored decisions. A snapshot's are made once per snapshot and
    workflow, their position apart: 1,600 rows take 30-150 ms, and every view of the window
    would make them again."""
    if snapshot is None:
        return [{**_row(s), "position": s["position"]} for s in stored]
    made = _ROWS.setdefault(snapshot, {})
    rows = []
    for s in stored:
        row = made.get(s["workflow"])
        if row is None:
            row = made[s["workflow"]] = _row(s)
        rows.append({**row, "position": s["position"]})
    return rows


def _row(stored: dict[str, Any]) -> dict[str, Any]:
    """The grid row of a stored decision, but its position: text and numbers only."""
    decision = _decision(stored)
    share = decisions.outage_share(decision)
    return {
        "group": stored["group"] or "", "workflow": stored["workflow"], "verdict": stored["verdict"],
        "remedy": stored["remedy"], "rule": stored["rule"] or "", "failed": stored["failed"],
        "failure_rate": round(100 * stored["failed"] / stored["jobs"], 1) if stored["jobs"] else None,
        "wasted_core_hours": round(stored["wasted_core_hours"], 1), "top_exit_codes": decisions.codes_text(decision),
        "outage_share": round(100 * share, 1) if share is not None else None, "sites": decisions.sites_text(decision, SITES_AT_A_GLANCE),
        "all_sites": decisions.sites_text(decision),
        "similar": len(stored["similar"]),
    }


def _decision(stored: dict[str, Any]) -> Decision:
    fields = {k: stored[k] for k in Decision.__dataclass_fields__ if k in stored}
    return Decision(**{"task": None, **fields})


@callback(
    Output("triage-selected", "children"),
    Input(grids.grid_id(GRID), "cellClicked"),
    State("triage-decisions", "data"),
    State("triage-view", "data"),
    prevent_initial_call=True,
)
def select(cell: dict | None, stored: list[dict[str, Any]] | None, search: str) -> Any:
    """The clicked workflow's decision, with links to its workflow page and its decision form."""
    if not cell or not stored:
        return no_update
    chosen = next((d for d in stored if d["workflow"] == cell.get("rowId")), None)
    if chosen is None:
        return components.notice("That row is no longer in the queue; reload the page.", "error")
    view = params_of(search)
    page = "/workflow?" + urlencode({"name": chosen["workflow"], **{k: view[k] for k in ("tf", "from", "to") if view.get(k)}})
    facts = [
        ("verdict", chosen["verdict"]), ("remedy", chosen["remedy"]), ("rule", chosen["rule"] or "(none)"), ("reason", chosen["reason"]),
        ("failed / jobs", f"{units.number(chosen['failed'])} / {units.number(chosen['jobs'])}"),
        ("wasted core-hours", units.number(round(chosen["wasted_core_hours"], 1))),
        ("failing sites (status)", decisions.sites_text(_decision(chosen)) or "(none)"),
    ]
    similar = [html.Li(dcc.Link(name, href="/workflow?" + urlencode({"name": name}))) for name in chosen["similar"]]
    return html.Div([
        html.H4(chosen["workflow"], id="triage-selected-name"),
        html.Dl([item for key, value in facts for item in (html.Dt(key), html.Dd(str(value)))], className="facts"),
        html.P([dcc.Link("open its workflow page", href=page, id="triage-selected-link"), " · ",
                dcc.Link("decide there (its action form)", href=page + "#decide", id="triage-selected-decide")]),
        html.Div([html.H5("Similar workflows"), html.Ul(similar)]) if similar else html.P("No similar workflows.", className="hint"),
    ])


suggest.register("triage-filter", FILTER_KEYS, "triage-view", window)
