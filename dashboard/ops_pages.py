"""The operators' pages (/ops): actions, announcements and, for admins, accounts and tokens.

Plain Flask pages (Jinja, autoescaped: reasons, messages and names are shown as text).
Reading actions needs a signed-in account; the announcement history is public like the
board. Each POST checks the CSRF token and the role before it writes.
"""

from __future__ import annotations

from datetime import timedelta

import orjson
from flask import Blueprint, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from dashboard.auth import Principal, Refused, client_address, csrf, database, identity, require, require_role
from dashboard.figures import utc_text
from dashboard.forms import ActionForm, AnnouncementForm, DecideForm, PlainForm, RetryForm, RoleForm
from fwjr.ops import accounts, actions, announcements, audit, tokens
from fwjr.ops.models import Account, Action, utcnow
from fwjr.ops.roles import Role
from fwjr.ops.suggestions import parse_pattern, parse_verdict

ops_pages = Blueprint("ops", __name__, url_prefix="/ops", template_folder="templates")
SHOWN_ACTIONS = 500


@ops_pages.app_template_filter("utc")
def _utc(epoch: float) -> str:
    return f"{utc_text(int(epoch))} UTC"


@ops_pages.before_request
def _csrf_on_every_post() -> None:
    csrf.protect()


def _listed(text: str | None) -> list[str]:
    return [item.strip() for item in (text or "").split(",") if item.strip()]


def _parameters(form: ActionForm | DecideForm) -> dict:
    """The action's parameters from the form's fields that were filled in (checked by fwjr.ops.actions)."""
    parameters: dict = {name: getattr(form, name).data for name in ("amount", "factor", "memory") if getattr(form, name).data is not None}
    if form.sites.data:
        parameters["sites"] = _listed(form.sites.data)
    if getattr(form, "tasks", None) is not None and form.tasks.data:
        parameters["tasks"] = _listed(form.tasks.data)
    return parameters


def _submission_body(form: ActionForm) -> dict:
    parameters = _parameters(form)
    return {
        "workflows": [line.strip() for line in form.workflows.data.splitlines() if line.strip()],
        "action": form.action.data, "parameters": parameters,
        "reasons": [{"short": form.short.data, "long": form.long.data or ""}],
    }


def _viewer() -> Principal:
    principal = identity()
    if principal is None:
        raise Refused(401, "sign in to see the actions")
    return principal


@ops_pages.route("/actions", methods=["GET", "POST"])
def actions_page() -> ResponseReturnValue:
    form = ActionForm()
    refused = None
    if form.is_submitted():
        principal = require("actions:write")
        if form.validate():
            try:
                submission = actions.parse_submission(_submission_body(form))
                with database() as opened:
                    stored = actions.submit(opened, submission, opened.get(Account, principal.account_id))
                    audit.record(opened, principal.name, "action.submit", ",".join(submission.workflows),
                                 {"action": submission.action, "parameters": submission.parameters, "ids": [a.id for a in stored]},
                                 client_address())
                flash(f"{submission.action} stored for {len(stored)} workflow(s)")
                return redirect(url_for("ops.actions_page"))
            except ValueError as why:
                refused = str(why)
    principal = _viewer()
    with database() as opened:
        shown = list(opened.scalars(select(Action).order_by(Action.id.desc()).limit(SHOWN_ACTIONS)))
        rows = [actions.describe(a, a.account.name) for a in shown]
    status = 400 if refused or form.errors else 200
    return render_template("ops/actions.html", rows=rows, form=form, refused=refused,
                           may_submit=principal.may("actions:write")), status


@ops_pages.post("/actions/retry")
def retry() -> ResponseReturnValue:
    """The failed-job page's retry button: a resubmit of the job's task (the whole workflow when
    the task is not a task path), with the job as its evidence."""
    principal = require("actions:write")
    form = RetryForm()
    if not form.validate():
        raise Refused(400, f"retry: {form.errors}")
    task = form.task.data or ""
    body = {
        "workflows": [form.workflow.data], "action": "resubmit",
        "parameters": {"tasks": [task]} if actions.TASK.match(task) else {},
        "reasons": [{"short": "retry: transient failure",
                     "long": f"retry of failed job {form.job.data} (exit code {form.exit_code.data or '?'}) from the failed-jobs page"}],
        "evidence": {"job": form.job.data, "exit_code": form.exit_code.data, "site": form.site.data, "task": task},
    }
    try:
        submission = actions.parse_submission(body)
    except ValueError as why:
        raise Refused(400, f"retry: {why}") from None
    with database() as opened:
        stored = actions.submit(opened, submission, opened.get(Account, principal.account_id))
        audit.record(opened, principal.name, "action.submit", submission.workflows[0],
                     {"action": "resubmit", "parameters": submission.parameters, "ids": [a.id for a in stored]}, client_address())
    flash(f"resubmit stored for {submission.workflows[0]}" + (f", task {task}" if submission.parameters else ""))
    return redirect(url_for("ops.actions_page"))


@ops_pages.post("/actions/decide")
def decide() -> ResponseReturnValue:
    """The workflow page's decision form: one action per workflow (the page's and the similar
    ones ticked), each keeping the triage decision the operator saw as its evidence."""
    principal = require("actions:write")
    form = DecideForm()
    if not form.validate():
        raise Refused(400, "decide: " + "; ".join(f"{name}: {', '.join(errors)}" for name, errors in form.errors.items()))
    try:
        evidence = _shown_evidence(form.evidence.data)
        body = {
            "workflows": [form.workflow.data, *_listed(form.also.data)], "action": form.action.data, "parameters": _parameters(form),
            "reasons": [{"short": form.short.data, "long": form.long.data or ""}], "evidence": evidence,
        }
        submission = actions.parse_submission(body)
    except ValueError as why:
        raise Refused(400, f"decide: {why}") from None
    with database() as opened:
        stored = actions.submit(opened, submission, opened.get(Account, principal.account_id))
        audit.record(opened, principal.name, "action.submit", ",".join(submission.workflows),
                     {"action": submission.action, "parameters": submission.parameters, "ids": [a.id for a in stored],
                      "verdict": evidence.get("verdict")}, client_address())
    flash(f"{submission.action} stored for {len(stored)} workflow(s): {', '.join(submission.workflows)}")
    return redirect(url_for("ops.actions_page"))


def _shown_evidence(text: str) -> dict:
    """The decision the page showed, as JSON; it must carry the workflow's error pattern (the
    contract of fwjr.ops.suggestions, which learns from it)."""
    try:
        evidence = orjson.loads(text)
    except orjson.JSONDecodeError as why:
        raise ValueError(f"evidence is not JSON: {why}") from None
    if not isinstance(evidence, dict):
        raise ValueError("evidence: expected an object with the pattern and the decision")
    if not parse_pattern(evidence.get("pattern"), "evidence.pattern"):
        raise ValueError("evidence.pattern: no failures in it; the decision needs the workflow's error pattern")
    parse_verdict(evidence.get("verdict"), "evidence.verdict")
    return evidence


@ops_pages.route("/announcements", methods=["GET", "POST"])
def announcements_page() -> ResponseReturnValue:
    form = AnnouncementForm()
    refused = None
    if form.is_submitted():
        principal = require("announcements:write")
        if form.validate():
            try:
                with database() as opened:
                    row = announcements.post(opened, form.message.data, form.severity.data, utcnow() + timedelta(hours=form.hours.data),
                                             opened.get(Account, principal.account_id))
                    audit.record(opened, principal.name, "announcement.post", f"announcement {row.id}", {"severity": row.severity},
                                 client_address())
                flash("announcement posted")
                return redirect(url_for("ops.announcements_page"))
            except ValueError as why:
                refused = str(why)
    principal = identity()
    with database() as opened:
        rows = [announcements.describe(row) for row in announcements.history(opened)]
    status = 400 if refused or form.errors else 200
    return render_template("ops/announcements.html", rows=rows, form=form, plain=PlainForm(), refused=refused, now=utcnow().timestamp(),
                           may_post=principal is not None and principal.may("announcements:write")), status


@ops_pages.post("/announcements/<int:announcement_id>/withdraw")
def withdraw(announcement_id: int) -> ResponseReturnValue:
    principal = require("announcements:write")
    with database() as opened:
        row = announcements.withdraw(opened, announcement_id, opened.get(Account, principal.account_id))
        audit.record(opened, principal.name, "announcement.withdraw", f"announcement {row.id}", address=client_address())
    return redirect(url_for("ops.announcements_page"))


@ops_pages.get("/accounts")
def accounts_page() -> ResponseReturnValue:
    require_role(Role.admin)
    with database() as opened:
        people = accounts.listing(opened)
        issued = tokens.listing(opened)
        return render_template("ops/accounts.html", people=people, issued=issued, plain=PlainForm(), role_form=RoleForm(),
                               roles=list(Role), entries=audit.recent(opened))


@ops_pages.post("/accounts/<int:account_id>/role")
def set_role(account_id: int) -> ResponseReturnValue:
    principal = require_role(Role.admin)
    form = RoleForm()
    if not form.validate():
        raise Refused(400, f"role: {form.errors}")
    with database() as opened:
        account = _account(opened, account_id)
        account.role = form.role.data
        audit.record(opened, principal.name, "account.role", account.name, {"role": account.role}, client_address())
    return redirect(url_for("ops.accounts_page"))


@ops_pages.post("/accounts/<int:account_id>/disable")
def toggle_disabled(account_id: int) -> ResponseReturnValue:
    principal = require_role(Role.admin)
    with database() as opened:
        account = _account(opened, account_id)
        account.disabled = not account.disabled
        event = "account.disable" if account.disabled else "account.enable"
        audit.record(opened, principal.name, event, account.name, address=client_address())
    return redirect(url_for("ops.accounts_page"))


@ops_pages.post("/tokens/<int:token_id>/revoke")
def revoke(token_id: int) -> ResponseReturnValue:
    principal = require_role(Role.admin)
    with database() as opened:
        try:
            row = tokens.revoke(opened, token_id)
        except ValueError as why:
            raise Refused(404, str(why)) from None
        audit.record(opened, principal.name, "token.revoke", f"token {row.id}", address=client_address())
    return redirect(url_for("ops.accounts_page"))


def _account(opened: Session, account_id: int) -> Account:
    account = opened.get(Account, account_id)
    if account is None:
        raise Refused(404, f"no account with id {account_id}")
    return account
