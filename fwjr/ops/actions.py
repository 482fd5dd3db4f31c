"""Operators' actions on workflows, for the executor (the service that carries them out).

An operator submits an action (kind, parameters, reasons) for one or more workflows; each
is stored pending. The executor polls the pending ones and reports those it acted on. A new
action for a workflow supersedes an older one still pending, so the executor is handed one
decision per workflow: the latest.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Text, cast, func, select, update
from sqlalchemy.orm import Session

from fwjr.ops.models import Account, Action, Reason, epoch_seconds, utcnow

PENDING, ACTED, SUPERSEDED = "pending", "acted", "superseded"
WORKFLOW = re.compile(r"^[A-Za-z0-9_.:+-]{1,300}$")
SITE = re.compile(r"^T[0-3]_[A-Z]{2}_[A-Za-z0-9_-]+$")
TASK = re.compile(r"^/[A-Za-z0-9_.:+-]{1,300}(/[A-Za-z0-9_.:+-]{1,300}){1,20}$")
MAX_WORKFLOWS = 1000
MAX_EVIDENCE_BYTES = 64_000
MAX_REASONS = 20
SHORT_LENGTH = 200
LONG_LENGTH = 10_000


class InvalidAction(ValueError):
    """A submission that cannot be stored; the message names the field and its value."""


def _whole(low: int, high: int, unit: str) -> Callable[[str, Any], int]:
    def check(name: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InvalidAction(f"parameters.{name}={value!r}: expected a whole number of {unit}, {low}..{high}")
        return value

    return check


def _sites(name: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not value or len(value) > 200:
        raise InvalidAction(f"parameters.{name}={value!r}: expected a list of 1..200 site names")
    for site in value:
        if not isinstance(site, str) or not SITE.match(site):
            raise InvalidAction(f"parameters.{name}: {site!r} is not a site name (like T1_US_FNAL)")
    return sorted(set(value))


def _tasks(name: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not value or len(value) > 200:
        raise InvalidAction(f"parameters.{name}={value!r:.200}: expected a list of 1..200 task paths")
    for task in value:
        if not isinstance(task, str) or not TASK.match(task):
            raise InvalidAction(f"parameters.{name}: {task!r:.200} is not a task path (like /Workflow/Task)")
    return sorted(set(value))


MEMORY = _whole(1, 1_000_000, "MB")
# Per action: the parameters it needs, and those it may take.
ACTIONS: dict[str, tuple[dict[str, Callable[[str, Any], Any]], dict[str, Callable[[str, Any], Any]]]] = {
    "acdc": ({}, {"memory": MEMORY, "sites": _sites, "tasks": _tasks}),
    "clone": ({}, {"memory": MEMORY}),
    "kill": ({}, {}),
    "more-memory": ({"amount": MEMORY}, {}),
    "more-wallclock": ({"amount": _whole(1, 10_080, "minutes")}, {}),
    "split": ({"factor": _whole(2, 100, "times")}, {}),
    "sites": ({"sites": _sites}, {}),
    "kill-and-clone": ({}, {"memory": MEMORY}),
    "resubmit": ({}, {"tasks": _tasks}),
}


@dataclass(frozen=True)
class Submission:
    workflows: list[str]
    action: str
    parameters: dict[str, Any]
    reasons: list[tuple[str, str]]
    evidence: dict[str, Any]


def parse_submission(body: Any) -> Submission:
    """A checked submission from a request body; InvalidAction names what is wrong."""
    if not isinstance(body, dict):
        raise InvalidAction("expected a JSON object with workflows, action, parameters, reasons")
    workflows = parse_workflows(body.get("workflows"))
    action = body.get("action")
    if action not in ACTIONS:
        raise InvalidAction(f"action={action!r}: expected one of {', '.join(ACTIONS)}")
    parameters = parse_parameters(action, body.get("parameters") or {})
    return Submission(workflows, action, parameters, parse_reasons(body.get("reasons")), parse_evidence(body.get("evidence")))


def parse_evidence(value: Any) -> dict[str, Any]:
    """What the submitter saw (any JSON object, kept as given up to MAX_EVIDENCE_BYTES)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidAction(f"evidence={value!r:.200}: expected an object")
    size = len(orjson.dumps(value))
    if size > MAX_EVIDENCE_BYTES:
        raise InvalidAction(f"evidence: {size} bytes, more than {MAX_EVIDENCE_BYTES}")
    return value


def parse_workflows(value: Any) -> list[str]:
    if not isinstance(value, list) or not value or len(value) > MAX_WORKFLOWS:
        raise InvalidAction(f"workflows={value!r:.200}: expected a list of 1..{MAX_WORKFLOWS} workflow names")
    for name in value:
        if not isinstance(name, str) or not WORKFLOW.match(name):
            raise InvalidAction(f"workflows: {name!r:.200} is not a workflow name (letters, digits, _.:+-, at most 300)")
    return list(dict.fromkeys(value))


def parse_parameters(action: str, parameters: Any) -> dict[str, Any]:
    if not isinstance(parameters, dict):
        raise InvalidAction(f"parameters={parameters!r:.200}: expected an object")
    required, optional = ACTIONS[action]
    for name in parameters:
        if name not in required and name not in optional:
            takes = ", ".join([*required, *optional]) or "none"
            raise InvalidAction(f"parameters.{name!s:.100}: {action} takes no such parameter (it takes: {takes})")
    for name in required:
        if name not in parameters:
            raise InvalidAction(f"parameters.{name} is missing: {action} needs it")
    checks = {**required, **optional}
    return {name: checks[name](name, value) for name, value in parameters.items()}


def parse_reasons(value: Any) -> list[tuple[str, str]]:
    if not isinstance(value, list) or not value or len(value) > MAX_REASONS:
        raise InvalidAction(f"reasons={value!r:.200}: expected a list of 1..{MAX_REASONS} objects {{short, long}}")
    reasons = []
    for reason in value:
        short = reason.get("short") if isinstance(reason, dict) else None
        long = reason.get("long", "") if isinstance(reason, dict) else None
        if not isinstance(short, str) or not short.strip() or len(short) > SHORT_LENGTH:
            raise InvalidAction(f"reasons: short={short!r:.200}: expected text of 1..{SHORT_LENGTH} characters")
        if not isinstance(long, str) or len(long) > LONG_LENGTH:
            raise InvalidAction(f"reasons: long={long!r:.200}: expected text of at most {LONG_LENGTH} characters")
        reasons.append((short.strip(), long.strip()))
    return reasons


def submit(session: Session, submission: Submission, account: Account) -> list[Action]:
    """Store one pending action per workflow, superseding the workflows' older pending ones."""
    now = utcnow()
    session.execute(
        update(Action).where(Action.workflow.in_(submission.workflows), Action.state == PENDING).values(state=SUPERSEDED)
    )
    stored = []
    for workflow in submission.workflows:
        action = Action(
            workflow=workflow, action=submission.action, parameters=submission.parameters, evidence=submission.evidence, account_id=account.id,
            submitted=now, state=PENDING,
            reasons=[Reason(position=i, short=short, long=long) for i, (short, long) in enumerate(submission.reasons)],
        )
        session.add(action)
        stored.append(action)
    session.flush()
    return stored


def describe(action: Action, user: str) -> dict[str, Any]:
    """The API's view of one action."""
    return {
        "id": action.id, "workflow": action.workflow, "action": action.action, "parameters": action.parameters,
        "reasons": [{"short": r.short, "long": r.long} for r in action.reasons], "user": user,
        "submitted": int(action.submitted.timestamp()), "state": action.state,
        "acted": int(action.acted.timestamp()) if action.acted else None, "evidence": action.evidence,
    }


def short_reasons(session: Session, limit: int = 100) -> list[str]:
    """The short reasons given before, most used first: the form offers them again."""
    used = func.count(Reason.id)
    return list(session.scalars(select(Reason.short).group_by(Reason.short).order_by(used.desc(), Reason.short).limit(limit)))


STATES = {0: (PENDING,), 1: (ACTED,), -1: (PENDING, ACTED, SUPERSEDED)}


def listing(session: Session, since: datetime, acted: int) -> dict[str, dict[str, Any]]:
    """{workflow: action} for actions submitted since `since` in the states `acted` selects; newest per workflow.

    The executor polls this, so it is two Core queries (actions with their submitter, then
    their reasons) on the session's connection, with the parameters read as their JSON text
    and the times as epoch seconds computed by the database: loading ORM objects, or letting
    SQLAlchemy convert each value, took five times as long as the queries for ten thousand actions.
    """
    chosen = (Action.state.in_(STATES[acted]), Action.submitted >= since)
    connection = session.connection()
    rows = connection.execute(
        select(Action.id, Action.workflow, Action.action, cast(Action.parameters, Text), Account.name,
               epoch_seconds(Action.submitted), Action.state, epoch_seconds(Action.acted))
        .join(Account, Account.id == Action.account_id).where(*chosen).order_by(Action.submitted, Action.id)
    ).all()
    reasons: dict[int, list[dict[str, str]]] = {}
    for action_id, short, long in connection.execute(
        select(Reason.action_id, Reason.short, Reason.long).join(Action, Action.id == Reason.action_id)
        .where(*chosen).order_by(Reason.action_id, Reason.position)
    ):
        reasons.setdefault(action_id, []).append({"short": short, "long": long})
    found: dict[str, dict[str, Any]] = {}
    for action_id, workflow, kind, parameters, user, submitted, state, acted_at in rows:
        found[workflow] = {
            "id": action_id, "action": kind, "parameters": orjson.loads(parameters), "reasons": reasons.get(action_id, []),
            "user": user, "submitted": submitted, "state": state, "acted": acted_at,
        }
    return found


def report(session: Session, workflows: list[str], account: Account) -> dict[str, list[str]]:
    """Mark the workflows' pending actions acted; says per workflow success, already_reported or does_not_exist.

    One UPDATE ... RETURNING, so two executors reporting the same workflow at once cannot both succeed.
    """
    done = set(session.scalars(
        update(Action).where(Action.workflow.in_(workflows), Action.state == PENDING)
        .values(state=ACTED, acted=utcnow(), acted_by=account.id).returning(Action.workflow)
    ))
    known = set(session.scalars(select(Action.workflow).where(Action.workflow.in_(set(workflows) - done)).distinct()))
    answer: dict[str, list[str]] = {"success": [], "already_reported": [], "does_not_exist": []}
    for workflow in workflows:
        key = "success" if workflow in done else "already_reported" if workflow in known else "does_not_exist"
        answer[key].append(workflow)
    return answer
