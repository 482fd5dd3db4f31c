"""The most recent failed jobs: find one by any text or id, then see its errors, where its
logs are, and what to do. Cells are grid text (escaped, dashboard/grids.py); the detail panel is plain components.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import dash
import orjson
from dash import Input, Output, State, callback, ctx, dcc, html, no_update
from flask_wtf.csrf import generate_csrf

from dashboard import components, context, grids, suggest, timeframe, units
from dashboard.auth import identity
from dashboard.figures import utc_text
from dashboard.state import params_of, query_filters, search_with
from fwjr import exit_codes
from fwjr.store import job_reads

LIMIT = 200
MESSAGE_CHARS = 300
FILTER_KEYS = ("workflow", "site", "exit_code", "host")
WINDOWS = {k: v[0] for k, v in timeframe.WINDOWS.items()}
COLUMNS = (
    ("time", "time (UTC)"), ("workflow", "workflow"), ("task", "task"), ("host", "host"), ("site", "site"),
    ("exit_code", "exit code"), ("description", "description"), ("error_type", "error type"),
    ("message", "message"), ("wall", "wall time"), ("log_archive", "log archive"),
)


def layout(q: str = "", tf: str = "24h", **params: str) -> html.Div:
    """The page with its jobs already listed (one search): on screen with the page, no second round trip."""
    search = search_with("", q=q, tf=tf, **{k: params.get(k, "") for k in FILTER_KEYS})
    rows, jobs, coverage, status = _load(search)
    return html.Div(
        [
            dcc.Location(id="failed-nav", refresh="callback-nav"),
            dcc.Store(id="failed-view", data=search),
            dcc.Store(id="failed-rows", data=jobs),
            html.H2("Failed jobs"),
            html.Div(
                [
                    html.Div([html.Label("search"), dcc.Input(id="failed-q", value=q, debounce=True, placeholder="workflow, site, host, exit code, fwjr_id, wmaid, error text", className="wide-input")], className="control"),
                    html.Div([html.Label("timeframe"), dcc.Dropdown(id="failed-tf", options=[{"label": v, "value": k} for k, v in WINDOWS.items()], value=tf if tf in WINDOWS else "24h", clearable=False)], className="control"),
                ],
                className="controls",
            ),
            html.Div([components.filter_input(k, params.get(k, ""), "failed-filter") for k in FILTER_KEYS], className="filters"),
            html.Div(status, id="failed-status"),
            components.card(
                html.Span("Newest failed jobs", id="failed-title"),
                components.loading(
                    grids.grid("failed-table", _columns(), rows, row_id="identity", paged=True, export="failed-jobs.csv",
                               empty="No failed jobs match this search in this timeframe."),
                    "failed-table",
                ),
                html.Span(coverage, id="failed-coverage"),
            ),
            components.card("Selected job", html.Div(components.notice("Click a row to see the job's errors, its log archive and what to do.", "info"), id="failed-detail")),
        ]
    )


dash.register_page(
    __name__,
    layout=layout,
    path="/failed",
    name="Failed jobs",
    title="FWJR Monitor · failed jobs",
    order=4,
)


@callback(
    Output("failed-nav", "search"),
    Input("failed-q", "value"),
    Input("failed-tf", "value"),
    *[Input(f"failed-filter-{k}", "value") for k in FILTER_KEYS],
    State("failed-view", "data"),
    prevent_initial_call=True,
)
def navigate(*values: Any) -> str:
    trigger = ctx.triggered_id
    if trigger is None:
        return no_update
    names = ("q", "tf") + FILTER_KEYS
    changed = dict(zip(names, values[:-1]))
    field = trigger[len("failed-filter-"):] if trigger.startswith("failed-filter-") else trigger[len("failed-"):]
    return search_with(values[-1], **{field: (changed[field] or "").strip()})


def _columns() -> list[grids.Column]:
    """The list's columns; the message column is wider, and a long value shows whole on hover."""
    wide = {"workflow": 220, "task": 200, "message": 320}
    return [{"field": key, "headerName": title, "tooltipField": key, **({"minWidth": wide[key]} if key in wide else {})} for key, title in COLUMNS]


@callback(
    Output(grids.grid_id("failed-table"), "rowData"),
    Output("failed-rows", "data"),
    Output("failed-coverage", "children"),
    Output("failed-status", "children"),
    Input("failed-view", "data"),
    prevent_initial_call=True,
)
def load(search: str) -> tuple:
    """The newest failed jobs matching the URL's search and filters (the layout lists them first)."""
    return _load(search)


def _load(search: str) -> tuple:
    """(table rows, the jobs' detail data, coverage line, status) for the search and filters of `search`."""
    view = params_of(search)
    try:
        start, end = timeframe.preset_range(view.get("tf", "24h"), context.now())
        filters = query_filters({k: view[k] for k in FILTER_KEYS if view.get(k)})
        jobs, ms = components.timed(job_reads.search_failed_jobs, context.store(), start, end, view.get("q") or None, filters, LIMIT)
    except ValueError as error:
        return [], [], "", components.failure("The search", error)
    except Exception as error:
        return [], [], "", components.failure("The query", error)
    rows = [_row(job) for job in jobs]
    status = components.notice("No failed jobs match this search in this timeframe.") if not jobs else None
    more = " (newest shown; narrow the search to see older ones)" if len(jobs) == LIMIT else ""
    if any(not start <= job["ts"] < end for job in jobs):
        more += " (found by its id, outside this timeframe)"
    return rows, [_detail_data(job) for job in jobs], f"{len(jobs)} failed jobs{more} · query {ms:.0f} ms", status


def _row(job: dict) -> dict[str, Any]:
    """A table row; `identity` is not a column but lets a click find the job."""
    message = job["error_details"] or ""
    return {
        "identity": job["identity"],
        "time": utc_text(job["ts"]),
        "workflow": job["workflow"],
        "task": job["task"],
        "host": job["host"],
        "site": job["site"],
        "exit_code": job["exit_code"],
        "description": exit_codes.describe(job["exit_code"], failed=True),
        "error_type": job["error_type"],
        "message": message if len(message) <= MESSAGE_CHARS else message[: MESSAGE_CHARS - 1] + "…",
        "wall": units.hms(job["wall_time"]),
        "log_archive": job["log_archive"],
    }


def _detail_data(job: dict) -> dict[str, Any]:
    keep = ("identity", "fwjr_id", "wn_name", "workflow", "task", "host", "site", "exit_code", "exit_step", "errors", "log_archive", "ts", "wall_time", "core_hours", "cpu_efficiency", "agent_ver", "retry_count")
    return {k: job[k] for k in keep}


@callback(
    Output("failed-detail", "children"),
    Input(grids.grid_id("failed-table"), "cellClicked"),
    State("failed-rows", "data"),
    prevent_initial_call=True,
)
def detail(cell: dict | None, jobs: list[dict] | None) -> Any:
    """One job: its ids, every step's error in full, the log archive, the procedure."""
    if not cell or not jobs:
        return no_update
    job = next((j for j in jobs if j["identity"] == cell.get("rowId")), None)
    if job is None:
        return components.notice("That row is no longer in the list; search again.", "error")
    procedure = exit_codes.procedure(job["exit_code"])
    try:
        errors = orjson.loads(job["errors"] or "[]")
    except orjson.JSONDecodeError:
        errors = []
    facts = [
        ("identity (wmaid)", job["identity"]), ("fwjr_id", job["fwjr_id"]), ("worker node", job["wn_name"]), ("agent", job["agent_ver"]),
        ("host", job["host"]), ("site", job["site"]), ("task", job["task"]), ("time (UTC)", utc_text(job["ts"])),
        ("wall time", units.hms(job["wall_time"])), ("core-hours", units.number(job["core_hours"])),
        ("CPU efficiency", units.format_value("cpu_efficiency", job["cpu_efficiency"])), ("retries before", job.get("retry_count", 0)),
    ]
    items = [item for key, value in facts for item in (html.Dt(key), html.Dd(str(value)))]
    items += [html.Dt("log archive"), html.Dd(_log_link(job["log_archive"]))]
    parts: list[Any] = [html.Dl(items, className="facts", id="failed-detail-facts")]
    parts.append(html.H4(f"{job['exit_code']}: {exit_codes.describe(job['exit_code'], failed=True)} (step {job['exit_step'] or '?'})"))
    parts.append(html.P([html.Strong("Action: "), procedure.normal] + ([" — ", procedure.additional] if procedure.additional else [])) if procedure else html.P("No standing procedure for this exit code.", className="hint"))
    parts.append(_retry(job))
    for error in errors:
        parts.append(_log_tail(error))
    return html.Div(parts)


def _retry(job: dict) -> Any:
    """The retry button, for those who may submit actions: a form that posts the job's task to
    /ops/actions/retry with the session's CSRF token (a resubmit action for the executor)."""
    principal = identity()
    if principal is None or not principal.may("actions:write"):
        return html.P(["Operators can retry this job's task: ", html.A("sign in", href="/account/login?next=/failed")], className="hint", id="failed-retry-hint")
    fields = {
        "csrf_token": generate_csrf(), "workflow": job["workflow"], "task": job["task"], "job": job["identity"],
        "exit_code": str(job["exit_code"]), "site": job["site"],
    }
    return html.Form(
        [*[dcc.Input(type="hidden", name=name, value=value) for name, value in fields.items()],
         html.Button("retry: resubmit this task", type="submit", id="failed-retry", className="button")],
        method="POST", action="/ops/actions/retry", id="failed-retry-form",
    )


# Lines of an error text shown before "show all": a log tail is read from its first lines.
_FOLDED_LINES = 12


def _log_tail(error: dict) -> html.Div:
    """One error as an operator reads a log tail: monospace, newlines kept, escaped by Dash,
    long texts folded behind "show all"."""
    details = error.get("details") or "(no message)"
    head = f"{error.get('step', '?')}: {error.get('exit_code', '?')} {error.get('type', '')}"
    if error.get("signature"):
        head += f"  [signature {error['signature']}]"
    lines = details.splitlines()
    if len(lines) <= _FOLDED_LINES:
        body: Any = html.Pre(details, className="snippet log-tail")
    else:
        body = html.Details([
            html.Summary(f"show all {len(lines)} lines"),
            html.Pre(details, className="snippet log-tail"),
        ], className="log-fold")
        body = html.Div([html.Pre("\n".join(lines[:_FOLDED_LINES]), className="snippet log-tail"), body])
    return html.Div([html.Div(head, className="snippet-head"), body], className="failed-error")


def _log_link(lfn: str) -> Any:
    """The log archive as a link through the configured gateway, or its LFN as text."""
    if not lfn:
        return "(none recorded)"
    template = context.settings().log_url_template
    if not template or not lfn.startswith("/"):
        return lfn
    return html.A(lfn, href=template.replace("{lfn}", quote(lfn)), target="_blank", rel="noopener noreferrer", id="failed-log-link")


suggest.register("failed-filter", FILTER_KEYS, "failed-view", lambda search: timeframe.preset_range(params_of(search).get("tf", "24h"), context.now()))
