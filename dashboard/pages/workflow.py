"""One workflow's errors: per step, the exit code x site table (every step error, or failed jobs by
their first error, switched by `count`); failures by retry count; and per exit code what operators
do about it (the procedures table, fwjr/data/procedures.json), its top error signatures with a
real message each, and the messages of failed jobs.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

import dash
from dash import Input, Output, callback, dcc, html

from fwjr import exit_codes, query

from dashboard import components, context, error_panels, timeframe, units
from dashboard.state import params_of, search_with


SITES_SHOWN = 10
WINDOWS = {k: v[0] for k, v in timeframe.WINDOWS.items()}


def layout(name: str = "", tf: str = "24h", count: str = "", **_: str) -> html.Div:
    """The page with its body already drawn (four queries): on screen with the page, no second round trip."""
    search = search_with("", name=name, tf=tf, count=count)
    return html.Div(
        [
            dcc.Location(id="workflow-nav", refresh="callback-nav"),
            dcc.Store(id="workflow-view", data=search),
            html.H2(["Workflow ", html.Code(name or "(none chosen)", id="workflow-name")]),
            html.Div(
                [
                    html.Div([html.Label("workflow"), dcc.Input(id="workflow-input", value=name, debounce=True, placeholder="workflow name", className="wide-input")], className="control"),
                    html.Div([html.Label("timeframe"), dcc.Dropdown(id="workflow-tf", options=[{"label": v, "value": k} for k, v in WINDOWS.items()], value=tf if tf in WINDOWS else "24h", clearable=False)], className="control"),
                    error_panels.count_switch("workflow-count", count),
                    dcc.Link("failed jobs of this workflow", href="/failed?" + urlencode({"workflow": name, "tf": tf}), id="workflow-failed-link"),
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
    prevent_initial_call=True,
)
def navigate(name: str | None, tf: str, count: str) -> str:
    return search_with("", name=(name or "").strip(), tf=tf, count="" if count == error_panels.DEFAULT_COUNT else count)


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
        start, end = timeframe.preset_range(view.get("tf", "24h"), context.now())
        store = context.store()
        wanted = {"workflow": name}
        cells, ms_cells = components.timed(error_panels.matrix, count, store, start, end, "exit_code", "site", "step", wanted)
        snippets, ms_snippets = components.timed(query.error_snippets, store, start, end, wanted)
        top, ms_top = components.timed(query.top_signatures, store, start, end, wanted)
        retries, ms_retries = components.timed(query.error_matrix, store, start, end, "exit_code", "retry_count", None, wanted)
    except Exception as error:
        return components.failure("Loading the workflow", error)
    if not cells:
        return components.notice(f"No errors recorded for this workflow in the {WINDOWS.get(view.get('tf', '24h'), 'timeframe').lower()}.")
    noun = "failed jobs" if count == "jobs" else "step errors"
    ms = ms_cells + ms_snippets + ms_top + ms_retries
    return html.Div(
        [
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
        line: list[Any] = [f"{code}: {exit_codes.describe(code, failed=True)}"]
        line += [units.number(counts[(code, s)]) if (code, s) in counts else "" for s in shown]
        if rest:
            line.append(units.number(sum(counts.get((code, s), 0) for s in rest)))
        line.append(units.number(code_totals[code]))
        rows.append(line)
    headers = ["exit code"] + [s or "(no site)" for s in shown] + (["other sites"] if rest else []) + ["total"]
    return components.table(headers, rows, f"workflow-step-{re.sub(r'[^A-Za-z0-9_-]', '_', step)}")


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
