"""One workflow, the place to decide about it: on top the triage decision with its evidence (and
the action learnt from past ones, when there is one), its tasks with their wall times and a
reprocessing estimate, the similar workflows, and the form that stores the operator's action
(dashboard/workflow_decision.py). Then its errors: per step, the exit code x site table (every
step error, or failed jobs by their first error, switched by `count`); failures by retry count;
and per exit code what operators do about it (the procedures table, fwjr/data/procedures.json),
its top error signatures with a real message each, and the messages of failed jobs.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from typing import Any
from urllib.parse import urlencode

import dash
from dash import Input, Output, State, callback, clientside_callback, dcc, html, no_update

from dashboard import components, context, decisions, error_panels, grids, timeframe, units, workflow_decision
from dashboard.state import params_of, search_with
from fwjr import exit_codes
from fwjr.store import error_reads
from fwjr.triage.tasks import TaskStats, task_stats

SITES_SHOWN = 10
WINDOWS = {**{k: v[0] for k, v in timeframe.WINDOWS.items()}, "custom": "Custom (from, to in the URL)"}


def layout(name: str = "", tf: str = "24h", count: str = "", **params: str) -> html.Div:
    """The page with its body already drawn (its queries run here): on screen with the page, no second round trip."""
    window = {k: params.get(k, "") for k in ("from", "to")} if tf == "custom" or (params.get("from") and params.get("to")) else {}
    if window:
        tf = "custom"
    search = search_with("", name=name, tf=tf, count=count, **window)
    return html.Div(
        [
            dcc.Location(id="workflow-nav", refresh="callback-nav"),
            dcc.Store(id="workflow-view", data=search),
            dcc.Store(id="workflow-scrolled"),
            html.H2(["Workflow ", html.Code(name or "(none chosen)", id="workflow-name")]),
            html.Div(
                [
                    html.Div([html.Label("workflow"), dcc.Input(id="workflow-input", value=name, debounce=True, placeholder="workflow name", className="wide-input")], className="control"),
                    html.Div([html.Label("timeframe"), dcc.Dropdown(id="workflow-tf", options=[{"label": v, "value": k} for k, v in WINDOWS.items()], value=tf if tf in WINDOWS else "24h", clearable=False)], className="control"),
                    error_panels.count_switch("workflow-count", count),
                    dcc.Link("failed jobs of this workflow", href="/failed?" + urlencode({"workflow": name, "tf": tf if tf in timeframe.WINDOWS else "24h"}),
                             id="workflow-failed-link"),
                ],
                className="controls",
            ),
            components.loading(html.Div(_body(search), id="workflow-body"), "workflow-body"),
        ]
    )


dash.register_page(
    __name__,
    layout=layout,
    path="/workflow",
    name="Workflow",
    title="FWJR Monitor · workflow",
    order=3,
)


@callback(
    Output("workflow-nav", "search"),
    Input("workflow-input", "value"),
    Input("workflow-tf", "value"),
    Input("workflow-count", "value"),
    State("workflow-view", "data"),
    prevent_initial_call=True,
)
def navigate(name: str | None, tf: str, count: str, search: str) -> str:
    """Controls -> URL; a custom window keeps its from and to, a rolling one drops them."""
    window = {k: params_of(search).get(k, "") for k in ("from", "to")} if tf == "custom" else {}
    return search_with("", name=(name or "").strip(), tf=tf, count="" if count == error_panels.DEFAULT_COUNT else count, **window)


@callback(
    Output(grids.grid_id(workflow_decision.TASK_GRID), "rowData"),
    Output("workflow-estimate-status", "children"),
    Input("workflow-reprocess-jobs", "value"),
    Input("workflow-reprocess-slots", "value"),
    State("workflow-task-stats", "data"),
    prevent_initial_call=True,
)
def reestimate(jobs: Any, slots: Any, stored: list[dict] | None) -> tuple:
    """The tasks' reprocessing estimate for the N and S typed in."""
    if not stored:
        return no_update, no_update
    try:
        wanted, on = _whole(jobs, "N jobs"), _whole(slots, "S slots")
        rows = workflow_decision.task_rows([TaskStats(**s) for s in stored], wanted, on)
    except ValueError as error:
        return no_update, components.failure("The estimate", error)
    return rows, None


def _whole(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise ValueError(f"{name}={value!r}: expected a whole number, at least 1")
    return int(value)


# The queue links to the form as /workflow?...#decide; the page is drawn after the browser
# looked for the anchor, so the page scrolls to it itself.
clientside_callback(
    "function (hash) { const form = hash === '#decide' && document.getElementById('decide');"
    " if (form) { form.scrollIntoView(); } return hash || ''; }",
    Output("workflow-scrolled", "data"),
    Input("workflow-nav", "hash"),
)


@callback(Output("decide-also", "value"), Input("decide-similar", "value"), prevent_initial_call=True)
def include(similar: list[str] | None) -> str:
    """The ticked similar workflows, as the form posts them."""
    return ",".join(similar or [])


@callback(Output("workflow-body", "children"), Input("workflow-view", "data"), prevent_initial_call=True)
def draw(search: str) -> Any:
    """Step tables, snippets and procedures for the workflow in the URL (the layout draws them first)."""
    return _body(search)


def _body(search: str) -> Any:
    """Step tables, snippets and procedures for the workflow of `search`."""
    view = params_of(search)
    name = view.get("name", "")
    if not name:
        return components.notice("Choose a workflow: type its name above, or follow a link from the overview or the error view.", "info")
    try:
        count = error_panels.count_of(view)
        preset = timeframe.preset_of(view.get("tf", "24h"), view.get("from"), view.get("to"), "24h")
        start, end = timeframe.resolve(view.get("tf", "24h"), view.get("from"), view.get("to"), context.now(), "24h")
        store = context.store()
        wanted = {"workflow": name}
        cells, ms_cells = components.timed(error_panels.matrix, count, store, start, end, "exit_code", "site", "step", wanted)
        snippets, ms_snippets = components.timed(error_reads.error_snippets, store, start, end, wanted)
        top, ms_top = components.timed(error_reads.top_signatures, store, start, end, wanted)
        retries, ms_retries = components.timed(error_reads.error_matrix, store, start, end, "exit_code", "retry_count", None, wanted)
        served, ms_decision = components.timed(decisions.decision_of, preset, start, end, name)
        tasks, ms_tasks = components.timed(task_stats, store, start, end, name)
        evidence = decisions.pattern_of(cells) if count == "errors" else decisions.pattern(store, start, end, name)
    except Exception as error:
        return components.failure("Loading the workflow", error)
    decision = next(iter(served.decisions), None)
    deciding = [
        dcc.Store(id="workflow-task-stats", data=[asdict(s) for s in tasks]),
        workflow_decision.decision_card(decision, evidence, served.age_text()),
        workflow_decision.tasks_card(tasks),
        workflow_decision.similar_card(decision, view),
        workflow_decision.decide_card(decision, evidence, "/workflow" + search_with("", **view)),
    ]
    if not cells:
        return html.Div([*deciding, components.notice(f"No errors recorded for this workflow in the {WINDOWS.get(view.get('tf', '24h'), 'timeframe').lower()}.")])
    noun = "failed jobs" if count == "jobs" else "step errors"
    ms = ms_cells + ms_snippets + ms_top + ms_retries + ms_decision + ms_tasks
    return html.Div(
        [
            *deciding,
            html.P(f"{units.number(sum(c['count'] for c in cells))} {noun} (counting {error_panels.COUNTS[count]}) · queries {ms:.0f} ms", className="card-footer", id="workflow-count-text"),
            *[components.card(f"Step {step or '(unnamed)'}: exit code × site, {noun}", _step_table(step, parts)) for step, parts in _by_step(cells).items()],
            components.card("Step errors by retry count", error_panels.retry_table(retries, "workflow-retries")),
            components.card("What to do, signatures and messages, per exit code", _procedures(cells, snippets, top)),
        ]
    )


def _by_step(cells: list[dict]) -> dict[str, list[dict]]:
    steps: dict[str, list[dict]] = {}
    for cell in cells:
        steps.setdefault(cell["step"], []).append(cell)
    return steps


def _step_table(step: str, cells: list[dict]) -> Any:
    site_totals: dict[str, int] = {}
    code_totals: dict[int, int] = {}
    counts: dict[tuple[int, str], int] = {}
    for cell in cells:
        site_totals[cell["site"]] = site_totals.get(cell["site"], 0) + cell["count"]
        code_totals[cell["exit_code"]] = code_totals.get(cell["exit_code"], 0) + cell["count"]
        counts[(cell["exit_code"], cell["site"])] = cell["count"]
    sites = sorted(site_totals, key=lambda s: (-site_totals[s], s))
    shown, rest = sites[:SITES_SHOWN], sites[SITES_SHOWN:]
    rows = []
    for code in sorted(code_totals, key=lambda c: (-code_totals[c], c)):
        row: dict[str, Any] = {"exit_code": f"{code}: {exit_codes.describe(code, failed=True)}", "total": code_totals[code]}
        row.update({f"s{i}": counts[(code, s)] for i, s in enumerate(shown) if (code, s) in counts})
        if rest:
            row["rest"] = sum(counts.get((code, s), 0) for s in rest)
        rows.append(row)
    # Sites are columns by position (s0, s1, ...): a grid field is a path, and a name may hold a dot.
    columns: list[grids.Column] = [{"field": "exit_code", "headerName": "exit code", "minWidth": 240}]
    columns += [grids.number_column(f"s{i}", s or "(no site)") for i, s in enumerate(shown)]
    columns += [grids.number_column("rest", "other sites")] if rest else []
    columns.append(grids.number_column("total", "total"))
    name = f"workflow-step-{re.sub(r'[^A-Za-z0-9_-]', '_', step)}"
    return grids.grid(name, columns, rows, export=f"{name}.csv")


def _procedures(cells: list[dict], snippets: list[dict], top: list[dict]) -> Any:
    codes = sorted({c["exit_code"] for c in cells})
    texts: dict[int, list[dict]] = {}
    for snippet in snippets:
        texts.setdefault(snippet["exit_code"], []).append(snippet)
    signatures: dict[int, list[dict]] = {}
    for row in top:
        signatures.setdefault(row["exit_code"], []).append(row)
    blocks = []
    for code in codes:
        procedure = exit_codes.procedure(code)
        parts: list[Any] = [html.H4(f"{code}: {exit_codes.describe(code, failed=True)}")]
        if procedure is None:
            parts.append(html.P("No standing procedure for this exit code: look at the messages, then open a ticket if it persists.", className="procedure-none"))
        else:
            parts.append(html.P([html.Strong("Cause: "), procedure.cause]))
            parts.append(html.P([html.Strong("Action: "), procedure.normal], className="procedure-action"))
            if procedure.additional:
                parts.append(html.P([html.Strong("If that fails: "), procedure.additional]))
        if code in signatures:
            parts.append(html.H5("Top error signatures (all step errors)"))
            parts.append(error_panels.signatures(signatures[code], f"workflow-signatures-{code}", headed=False))
        for snippet in texts.get(code, []):
            found = _parameter(procedure.match if procedure else None, snippet["error_details"])
            parts.append(html.Div([
                html.Div(f"{snippet['error_type'] or 'error'} · {units.number(snippet['jobs'])} jobs" + (f" · {found}" if found else ""), className="snippet-head"),
                html.Pre(snippet["error_details"][:1500] or "(no message)", className="snippet"),
            ]))
        if code not in texts:
            parts.append(html.P("No message text kept for this code (job rows expire after the jobs retention).", className="hint"))
        blocks.append(html.Div(parts, className="procedure", id=f"procedure-{code}"))
    return html.Div(blocks)


def _parameter(pattern: str | None, text: str) -> str | None:
    """The procedure's parameter (a file, a site) found in the message, if it names one."""
    if not pattern or not text:
        return None
    try:
        match = re.search(pattern, text)
    except re.error:
        return None
    return match.group(1) if match and match.groups() else None
