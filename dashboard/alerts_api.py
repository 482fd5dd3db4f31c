"""JSON API for alerts, outages and failure correlation (/api/v1), for scripts and the CLI.

While the local stack runs, the worker owns the embedded store; `fwjr correlate` and
`fwjr job-services` then ask here. Read-only; every value reaches SQL as a bound parameter
(through fwjr.query). Bad input answers 400 with {"error": "..."}.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, jsonify, request

from dashboard import context, timeframe
from dashboard.state import query_filters
from fwjr import query
from fwjr.alerting.correlate import correlate_store, services_for_job
from fwjr.model import SCOPE_KEYS

alerts_api = Blueprint("alerts_api", __name__, url_prefix="/api/v1")
MAX_HOURS = 24 * 365


@alerts_api.errorhandler(ValueError)
def _bad_request(error: ValueError) -> tuple[Response, int]:
    return jsonify({"error": str(error)}), 400


def _range(default: str) -> tuple[int, int]:
    args = request.args
    return timeframe.resolve(args.get("tf"), args.get("from"), args.get("to"), context.now(), default)


@alerts_api.get("/alerts")
def alerts() -> Response:
    """Alerts firing now or fired in the last `hours` (default 24), each in its latest state."""
    raw = request.args.get("hours", "24")
    try:
        hours = float(raw)
    except ValueError:
        raise ValueError(f"hours={raw!r}: expected a number of hours") from None
    if not 0 < hours <= MAX_HOURS:
        raise ValueError(f"hours={hours}: expected more than 0 and at most {MAX_HOURS}")
    rows = query.alert_history(context.store(), int(context.now() - hours * 3600))
    for row in rows:
        row["evidence"] = json.loads(row["evidence"])
        row["members"] = list(row["members"])
    return jsonify({"alerts": rows})


@alerts_api.get("/outages")
def outages() -> Response:
    """Outage windows overlapping the range (default the last 7 days), optionally of one service."""
    start, end = _range("last7d")
    rows = query.outage_windows(context.store(), start, end, request.args.get("service") or None)
    now = context.now()
    for row in rows:
        row["duration"] = (row["end"] if row["end"] is not None else now) - row["start"]
    return jsonify({"outages": rows})


@alerts_api.get("/correlation")
def correlation() -> Response:
    """Failures inside vs outside outages per exit code and site, with verdicts, for a range and scope."""
    start, end = _range("last7d")
    texts = {k: request.args[k] for k in SCOPE_KEYS if request.args.get(k, "").strip()}
    now = context.now()
    precision = query.finest_precision(start, end, now, query.ladder(context.settings()))
    report: dict[str, Any] = correlate_store(context.store(), start, end, now, query_filters(texts), precision)
    return jsonify({"from": start, "to": end, **report})


@alerts_api.get("/jobs/<identity>/services")
def job_services(identity: str) -> tuple[Response, int]:
    """Which services were down or degraded while one stored job ran."""
    found = services_for_job(context.store(), identity)
    if found is None:
        return jsonify({"error": f"job {identity!r} is not in the store (jobs are kept {context.settings().jobs_days} days)"}), 404
    return jsonify({"identity": identity, "services": found}), 200


def register(server: object) -> None:
    """Attach the endpoints to the board's Flask server."""
    server.register_blueprint(alerts_api)  # type: ignore[attr-defined]
