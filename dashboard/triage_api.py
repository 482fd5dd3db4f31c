"""JSON API of the triage (/api/v1): the decision per failing workflow, and the site status.

Read-only; parameters are checked first (dashboard/params.py: the range, the scope filters),
a bad one answers 400 naming it. `fwjr triage` reads here while the local stack owns the store.
The decisions are those the pages show (dashboard/decisions.py): filters select workflows,
each with its whole decision (fwjr.triage.select).
"""

from __future__ import annotations

import orjson
from flask import Blueprint, Response, jsonify
from werkzeug.exceptions import HTTPException

from dashboard import context, params
from dashboard import decisions as board_decisions
from fwjr.triage.decide import triage_thresholds
from fwjr.triage.sites import site_statuses

triage_api = Blueprint("triage_api", __name__, url_prefix="/api/v1")


@triage_api.errorhandler(ValueError)
def _bad_request(error: ValueError) -> tuple[Response, int]:
    return jsonify({"error": str(error)}), 400


@triage_api.errorhandler(Exception)
def _failure(error: Exception) -> tuple[Response, int] | HTTPException:
    return params.internal_error(error)


@triage_api.get("/triage")
def decisions() -> Response:
    """One decision per failing workflow the filters select, most wasted core-hours first: a
    preset's from the board's snapshot of its triage, a from/to range's computed for the request;
    `as_of` says when they were computed, `refresh_seconds` how often a snapshot is (null: for
    this request)."""
    given = params.current()
    start, end = given.range
    served = board_decisions.decisions(given.preset, start, end, given.filters)
    # orjson: a busy day is ~1,600 decisions with their evidence, and Flask's json sorts every key in Python
    body = orjson.dumps({"from": served.start, "to": served.end, "as_of": served.as_of, "age_seconds": max(context.now() - served.as_of, 0),
                         "refresh_seconds": served.refresh_seconds, "workflows": served.answers})
    return Response(body, mimetype="application/json")


@triage_api.get("/site-status")
def sites() -> Response:
    """Each site's job success rate and CPU efficiency against the thresholds, worst first."""
    given = params.current()
    start, end = given.range
    limits = triage_thresholds(context.settings()).site
    found = site_statuses(context.store(), start, end, limits, given.filters)
    return jsonify({"from": start, "to": end, "sites": [s.as_dict() for s in found]})


def register(server: object) -> None:
    """Attach the endpoints to the board's Flask server."""
    server.register_blueprint(triage_api)  # type: ignore[attr-defined]
