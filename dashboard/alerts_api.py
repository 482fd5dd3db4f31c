"""JSON API for alerts, outages and failure correlation (/api/v1), for scripts and the CLI.

While the local stack runs, the worker owns the embedded store; `fwjr correlate` and
`fwjr job-services` then ask here. Read-only; every value reaches SQL as a bound parameter
(through the fwjr.store reads). Parameters are checked first (dashboard/params.py): bad input answers
400 with {"error": "..."} naming the parameter; a failure after that answers a short 500.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, jsonify
from werkzeug.exceptions import HTTPException

from dashboard import context, params
from fwjr.alerting.correlate import correlate_store, services_for_job
from fwjr.store import alerts as store_alerts
from fwjr.store import sql

alerts_api = Blueprint("alerts_api", __name__, url_prefix="/api/v1")


@alerts_api.errorhandler(ValueError)
def _bad_request(error: ValueError) -> tuple[Response, int]:
    return jsonify({"error": str(error)}), 400


@alerts_api.errorhandler(Exception)
def _failure(error: Exception) -> tuple[Response, int] | HTTPException:
    return params.internal_error(error)


@alerts_api.get("/alerts")
def alerts() -> Response:
    """Alerts firing now or fired in the last `hours` (default 24), each in its latest state."""
    hours = params.current()["hours"]
    rows = store_alerts.alert_history(context.store(), int(context.now() - hours * 3600))
    for row in rows:
        row["evidence"] = json.loads(row["evidence"])
        row["members"] = list(row["members"])
    return jsonify({"alerts": rows})


@alerts_api.get("/outages")
def outages() -> Response:
    """Outage windows overlapping the range (default the last 7 days), optionally of one service."""
    given = params.current()
    start, end = given.range
    rows = store_alerts.outage_windows(context.store(), start, end, given["service"] or None)
    now = context.now()
    for row in rows:
        row["duration"] = (row["end"] if row["end"] is not None else now) - row["start"]
    return jsonify({"outages": rows})


@alerts_api.get("/correlation")
def correlation() -> Response:
    """Failures inside vs outside outages per exit code and site, with verdicts, for a range and scope."""
    given = params.current()
    start, end = given.range
    now = context.now()
    report: dict[str, Any] = correlate_store(context.store(), start, end, now, given.filters, sql.ladder(context.settings()))
    return jsonify({"from": start, "to": end, **report})


@alerts_api.get("/jobs/<identity>/services")
def job_services(identity: str) -> tuple[Response, int]:
    """Which services were down or degraded while one stored job ran."""
    params.current()  # the identity checked (length, control characters) like any parameter
    found = services_for_job(context.store(), identity)
    if found is None:
        return jsonify({"error": f"job {identity!r} is not in the store (jobs are kept {context.settings().jobs_days} days)"}), 404
    return jsonify({"identity": identity, "services": found}), 200


def register(server: object) -> None:
    """Attach the endpoints to the board's Flask server."""
    server.register_blueprint(alerts_api)  # type: ignore[attr-defined]
