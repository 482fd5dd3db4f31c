"""The executor's API (/api/v1/actions): operators' actions on workflows, pending until reported.

- GET  /actions?days=N&acted=0|1|-1  (scope actions:read): {workflow: action} of the last N
  days, pending (0, default), acted (1) or all (-1); the newest action per workflow.
- POST /actions  (scope actions:write): store one action for each listed workflow.
- POST /actions/report  (scope actions:report): the executor says it acted.
Tokens go in `Authorization: Bearer`; a signed-in session may also call these, sending its
CSRF token in X-CSRFToken on POSTs. docs/api.md has examples.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
from flask import Blueprint, Response, jsonify, request

from dashboard.auth import client_address, database, require
from fwjr.ops import actions, audit
from fwjr.ops.models import Account, utcnow

actions_api = Blueprint("actions_api", __name__, url_prefix="/api/v1")
DEFAULT_DAYS = 30
MAX_DAYS = 3650
ACTED = {"0": 0, "1": 1, "-1": -1}


@actions_api.errorhandler(ValueError)
def _bad_request(error: ValueError) -> tuple[Response, int]:
    return jsonify({"error": str(error)}), 400


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValueError("expected a JSON object body (Content-Type: application/json)")
    return body


def _days() -> int:
    raw = request.args.get("days", str(DEFAULT_DAYS))
    try:
        days = int(raw)
    except ValueError:
        raise ValueError(f"days={raw!r}: expected a whole number of days") from None
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days={days}: expected 1..{MAX_DAYS}")
    return days


@actions_api.get("/actions")
def listing() -> Response:
    """Actions of the last `days` days by workflow (pending by default)."""
    require("actions:read")
    raw = request.args.get("acted", "0")
    if raw not in ACTED:
        raise ValueError(f"acted={raw!r}: expected 0 (pending), 1 (acted) or -1 (all)")
    since = utcnow() - timedelta(days=_days())
    with database() as opened:
        found = actions.listing(opened, since, ACTED[raw])
    return Response(orjson.dumps(found), mimetype="application/json")


@actions_api.post("/actions")
def submit() -> tuple[Response, int]:
    """Store a pending action per workflow; answers the stored actions with their ids."""
    principal = require("actions:write")
    submission = actions.parse_submission(_json_body())
    with database() as opened:
        account = opened.get(Account, principal.account_id)
        stored = actions.submit(opened, submission, account)
        audit.record(opened, principal.name, "action.submit", ",".join(submission.workflows),
                     {"action": submission.action, "parameters": submission.parameters, "ids": [a.id for a in stored]},
                     client_address())
        answer = [actions.describe(a, principal.name) for a in stored]
    return jsonify({"actions": answer}), 201


@actions_api.post("/actions/report")
def report() -> Response:
    """Mark workflows' pending actions acted: {success, already_reported, does_not_exist}."""
    principal = require("actions:report")
    workflows = actions.parse_workflows(_json_body().get("workflows"))
    with database() as opened:
        answer = actions.report(opened, workflows, opened.get(Account, principal.account_id))
        audit.record(opened, principal.name, "action.report", ",".join(answer["success"]), answer, client_address())
    return jsonify(answer)


def register(server: Any) -> None:
    """Attach the endpoints to the board's Flask server."""
    server.register_blueprint(actions_api)
