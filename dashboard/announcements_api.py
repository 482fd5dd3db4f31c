"""Announcements over the API (/api/v1/announcements): read by anyone, posted with a token.

- GET  /announcements            those showing now; ?all=1 for the history.
- POST /announcements            (scope announcements:write) {message, severity, expires | hours}.
- POST /announcements/<id>/withdraw  (scope announcements:write).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, jsonify, request

from dashboard.auth import client_address, database, require
from fwjr.bucket import parse_iso
from fwjr.ops import announcements, audit
from fwjr.ops.models import Account, utcnow

announcements_api = Blueprint("announcements_api", __name__, url_prefix="/api/v1")
SCOPE = "announcements:write"


@announcements_api.errorhandler(ValueError)
def _bad_request(error: ValueError) -> tuple[Response, int]:
    return jsonify({"error": str(error)}), 400


def expiry(body: dict[str, Any]) -> datetime:
    """When an announcement stops showing: `expires` (epoch seconds or ISO time) or `hours` from now."""
    if "expires" in body:
        value = body["expires"]
        try:
            epoch = parse_iso(value) if isinstance(value, str) else int(value)
        except (TypeError, ValueError):
            raise ValueError(f"expires={value!r}: expected epoch seconds or an ISO time") from None
        return datetime.fromtimestamp(epoch, UTC)
    hours = body.get("hours")
    if isinstance(hours, bool) or not isinstance(hours, int | float):
        raise ValueError(f"hours={hours!r}: give expires (epoch seconds or ISO time) or hours (a number)")
    return utcnow() + timedelta(hours=hours)


@announcements_api.get("/announcements")
def listing() -> Response:
    with database() as opened:
        rows = announcements.history(opened) if request.args.get("all") == "1" else announcements.active(opened)
        return jsonify({"announcements": [announcements.describe(row) for row in rows]})


@announcements_api.post("/announcements")
def post() -> tuple[Response, int]:
    principal = require(SCOPE)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValueError("expected a JSON object body {message, severity, expires | hours}")
    with database() as opened:
        row = announcements.post(opened, body.get("message", ""), body.get("severity", "info"), expiry(body),
                                 opened.get(Account, principal.account_id))
        audit.record(opened, principal.name, "announcement.post", f"announcement {row.id}", {"severity": row.severity},
                     client_address())
        return jsonify(announcements.describe(row)), 201


@announcements_api.post("/announcements/<int:announcement_id>/withdraw")
def withdraw(announcement_id: int) -> Response:
    principal = require(SCOPE)
    with database() as opened:
        row = announcements.withdraw(opened, announcement_id, opened.get(Account, principal.account_id))
        audit.record(opened, principal.name, "announcement.withdraw", f"announcement {row.id}", address=client_address())
        return jsonify(announcements.describe(row))


def register(server: Any) -> None:
    """Attach the endpoints to the board's Flask server."""
    server.register_blueprint(announcements_api)
