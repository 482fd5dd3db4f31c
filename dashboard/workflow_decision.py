"""The workflow page's deciding parts: the triage decision with its evidence, the suggestion
learnt from past actions beside it, the tasks with their reprocessing estimate, the similar
workflows, and the form that stores the operator's action.

The form is a plain HTML form posting to /ops/actions/decide with the session's CSRF token
(dashboard/ops_pages.py checks the role and validates it); no Dash callback writes. What it
posts as evidence is the decision as shown here, with the workflow's error pattern.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import orjson
from dash import dcc, html
from flask_wtf.csrf import generate_csrf

from dashboard import components, context, decisions, grids, units
from dashboard.auth import database, identity
from fwjr.ops import actions
from fwjr.ops.suggestions import Suggestion, suggest
from fwjr.triage.decide import Decision
from fwjr.triage.tasks import TaskStats

TASK_GRID = "workflow-tasks"
DEFAULT_REPROCESS = {"jobs": 100, "slots": 50}
ESTIMATE_TEXT = ("reprocessing time = ceil(N / S) × the task's median wall time per job, of its succeeded jobs "
                 "(of all its jobs when none succeeded); wall times from the per-job rows, kept 14 days")
TASK_COLUMNS: tuple[grids.Column, ...] = (
    {"field": "task", "headerName": "task", "minWidth": 240, "tooltipField": "task"},
    grids.number_column("jobs", "jobs"),
    grids.number_column("failed", "failed"),
    grids.number_column("failure_rate", "failure rate %"),
    grids.number_column("core_hours", "core-hours"),
    grids.number_column("cpu_efficiency", "CPU efficiency %"),
    {"field": "wall_median", "headerName": "wall/job median"},
    {"field": "wall_p90", "headerName": "wall/job p90"},
    {"field": "estimate", "headerName": "reprocess N on S slots", "minWidth": 180},
    {"field": "basis", "headerName": "estimate from"},
)


def decision_card(decision: Decision | None, pattern: list[dict[str, Any]], age: str) -> html.Div:
    """The triage decision on top of the page, with the learnt suggestion beside the rule's remedy;
    `age` says when it was computed (dashboard.decisions.Served.age_text)."""
    footer = html.Span(age, id="workflow-decision-age")
    if decision is None:
        return components.card("Triage decision", components.notice("No failed jobs for this workflow in this window: nothing to decide.", "info"),
                               footer, card_id="workflow-decision")
    share = decisions.outage_share(decision)
    spread = decision.evidence.get("spread") or {}
    facts = [
        ("verdict", decision.verdict), ("remedy (rule)", decision.remedy), ("rule", decision.rule or "(no rule matched)"),
        ("error class", decision.error_class), ("reason", decision.reason),
        ("failed / jobs", f"{units.number(decision.failed)} / {units.number(decision.jobs)}"),
        ("wasted core-hours", units.number(round(decision.wasted_core_hours, 1))),
        ("top exit codes", decisions.codes_text(decision) or "(none)"),
        ("failures inside outages", f"{share:.0%}" if share is not None else "?"),
        ("failing sites (status)", decisions.sites_text(decision) or "(none)"),
        ("sites run / failing", f"{spread.get('sites_run', '?')} / {spread.get('sites_failing', '?')}"),
    ]
    items = [item for key, value in facts for item in (html.Dt(key), html.Dd(str(value)))]
    parts: list[Any] = [html.Dl(items, className="facts", id="workflow-decision-facts"), _suggestion(decision, pattern)]
    if decision.tasks:
        parts.append(html.H5("Tasks deciding differently"))
        parts.append(html.Ul([html.Li(f"{t['task']}: {t['verdict']}, {t['remedy']} ({t['reason']})") for t in decision.tasks]))
    return components.card("Triage decision", html.Div(parts), footer, card_id="workflow-decision")


def _suggestion(decision: Decision, pattern: list[dict[str, Any]]) -> html.Div:
    """The action learnt from past decisions, only when the model has one to give."""
    found = _suggested(decision, pattern)
    if found is None:
        return html.Div(id="workflow-suggestion")
    text = (f"From past actions: {found.action} (confidence {found.confidence:.0%}; on held-out history "
            f"{found.accuracy:.0%} right against {found.baseline:.0%} for always the most frequent action)")
    return html.Div(html.P(text, className="suggestion"), id="workflow-suggestion")


def _suggested(decision: Decision, pattern: list[dict[str, Any]]) -> Suggestion | None:
    try:
        return suggest(context.settings(), pattern, decision.verdict)
    except ValueError as error:
        components.log.warning("board: suggestion for %s failed: %s", decision.workflow, error)
        return None


def task_rows(tasks: list[TaskStats], jobs: int, slots: int) -> list[dict[str, Any]]:
    """The task grid's rows with the estimate for N jobs on S slots."""
    rows = []
    for stats in tasks:
        guess = stats.estimate(jobs, slots)
        rows.append({
            "task": stats.task, "jobs": stats.jobs, "failed": stats.failed, "failure_rate": round(100 * stats.failure_rate, 1),
            "core_hours": round(stats.core_hours, 1),
            "cpu_efficiency": round(100 * stats.cpu_efficiency, 1) if stats.cpu_efficiency is not None else None,
            "wall_median": units.hms(stats.wall_median), "wall_p90": units.hms(stats.wall_p90),
            "estimate": f"{units.hms(guess.seconds)} ({guess.waves} × {units.hms(guess.per_job)})",
            "basis": f"median of {units.number(stats.succeeded)} {guess.basis}" if guess.basis == "succeeded jobs" else f"median of {guess.basis}",
        })
    return rows


def tasks_card(tasks: list[TaskStats]) -> html.Div:
    """Per task: jobs, failure rate, core-hours, CPU efficiency, wall time per job, and the estimate."""
    inputs = html.Div([
        html.Div([html.Label("N jobs to reprocess", htmlFor="workflow-reprocess-jobs"),
                  dcc.Input(id="workflow-reprocess-jobs", type="number", min=1, step=1, value=DEFAULT_REPROCESS["jobs"], debounce=True)], className="control"),
        html.Div([html.Label("S slots", htmlFor="workflow-reprocess-slots"),
                  dcc.Input(id="workflow-reprocess-slots", type="number", min=1, step=1, value=DEFAULT_REPROCESS["slots"], debounce=True)], className="control"),
    ], className="controls")
    table = grids.grid(TASK_GRID, TASK_COLUMNS, task_rows(tasks, **DEFAULT_REPROCESS), row_id="task", export="workflow-tasks.csv",
                       empty="No job rows kept for this workflow in this window.")
    return components.card("Tasks", html.Div([inputs, html.Div(id="workflow-estimate-status"), table]), ESTIMATE_TEXT)


def similar_card(decision: Decision | None, search_params: dict[str, str]) -> html.Div:
    """The workflows failing the same way, each linking to its page (same window)."""
    similar = decision.similar if decision else []
    if not similar:
        return components.card("Similar workflows", components.notice("No workflow fails with a similar error pattern in this window.", "info"),
                               card_id="workflow-similar")
    window = {k: v for k, v in search_params.items() if k in ("tf", "from", "to") and v}
    links = [html.Li(dcc.Link(name, href="/workflow?" + urlencode({"name": name, **window}))) for name in similar]
    return components.card("Similar workflows (failing with a similar error pattern)", html.Ul(links), card_id="workflow-similar")


def decide_card(decision: Decision | None, pattern: list[dict[str, Any]], login_next: str) -> html.Div:
    """The action form for operators; a sign-in hint for everyone else."""
    principal = identity()
    if decision is None:
        body: Any = components.notice("Nothing to decide in this window.", "info")
    elif principal is None or not principal.may("actions:write"):
        body = html.P(["Operators decide here: ", html.A("sign in", href="/account/login?" + urlencode({"next": login_next}))],
                      className="hint", id="decide-hint")
    else:
        body = _form(decision, pattern)
    return html.Div(components.card("Decide: store an action for the executor", body), id="decide")


def _form(decision: Decision, pattern: list[dict[str, Any]]) -> html.Form:
    remedy = decision.evidence.get("remedy") or {}
    chosen = remedy.get("action") if remedy.get("action") in actions.ACTIONS else None
    with database() as opened:
        reasons = actions.short_reasons(opened)
    hidden = {
        "csrf_token": generate_csrf(), "workflow": decision.workflow,
        "evidence": orjson.dumps(decisions.shown_evidence(decision, pattern)).decode(),
    }
    # The rule's remedy first: a select shows its first option (React would warn on `selected`).
    options = [html.Option(name, value=name) for name in sorted(actions.ACTIONS, key=lambda name: name != chosen)]
    return html.Form(
        [
            *[dcc.Input(type="hidden", name=name, value=value) for name, value in hidden.items()],
            dcc.Input(type="hidden", name="also", id="decide-also", value=""),
            html.P(f"The rule's remedy: {decision.remedy}" + ("" if chosen else " (not an executor action: pick one)"), className="hint"),
            _labelled("action", html.Select(options, name="action", id="decide-action")),
            _labelled("amount (MB for more-memory, minutes for more-wallclock)",
                      dcc.Input(type="number", name="amount", id="decide-amount", value=remedy.get("memory_mb"))),
            _labelled("split factor", dcc.Input(type="number", name="factor", id="decide-factor", value=remedy.get("factor"))),
            _labelled("memory (MB; acdc, clone, kill-and-clone)", dcc.Input(type="number", name="memory", id="decide-memory")),
            _labelled("sites (comma separated)", dcc.Input(type="text", name="sites", id="decide-sites")),
            _labelled("tasks (comma separated task paths; acdc, resubmit)", dcc.Input(type="text", name="tasks", id="decide-tasks")),
            _labelled("short reason (one used before, or your own)",
                      dcc.Input(type="text", name="short", id="decide-short", list="decide-short-reasons", required=True, maxLength=200)),
            html.Datalist([html.Option(value=text) for text in reasons], id="decide-short-reasons"),
            _labelled("explanation (logged, sent to the requester)", html.Textarea(name="long", id="decide-long", rows=3, maxLength=10_000)),
            _similar_choice(decision),
            html.Button("submit the action", type="submit", id="decide-submit", className="button"),
        ],
        method="POST", action="/ops/actions/decide", id="decide-form",
    )


def _similar_choice(decision: Decision) -> Any:
    """Ticks for the similar workflows to include; a callback copies them into the form's `also` field."""
    if not decision.similar:
        return html.P("No similar workflows to include.", className="hint")
    return html.Div([
        html.Label("include similar workflows"),
        dcc.Checklist(id="decide-similar", options=[{"label": name, "value": name} for name in decision.similar], value=[]),
    ])


def _labelled(text: str, control: Any) -> html.Div:
    return html.Div([html.Label(text), control], className="form-field")
