"""The board's JSON API (/api/v1), on the same Flask server as the pages.

What the archive's `/data/performance` offered (metrics, axes, filters, suggestions,
exit-code descriptions), plus the raw aggregate rows the CLI reads while the local stack
owns the store, health and freshness. Every handler goes through the fwjr.store reads; request
values reach SQL only as bound parameters. Every parameter is checked first, by
dashboard/params.py (a bad one answers 400 {"error": "..."} naming it and its value, before
any store call); a failure after that answers 500 with a reference, its detail in the log.
docs/api.md has examples.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from flask import Blueprint, Response, jsonify
from werkzeug.exceptions import HTTPException

from dashboard import context, params, performance, timeframe, units
from dashboard.components import freshness_level
from dashboard.state import parse_view
from fwjr import exit_codes
from fwjr.model import ERROR_KEYS, SCOPE_KEYS
from fwjr.store import error_reads, job_reads, sql
from fwjr.store import reads as store_reads

log = logging.getLogger("fwjr.board.api")
api = Blueprint("api", __name__, url_prefix="/api/v1")


@api.errorhandler(ValueError)
def _bad_request(error: ValueError) -> tuple[Response, int]:
    return jsonify({"error": str(error)}), 400


@api.errorhandler(Exception)
def _failure(error: Exception) -> tuple[Response, int] | HTTPException:
    return params.internal_error(error)


@api.get("/health")
def health() -> Response:
    """Liveness plus freshness: when the newest FWJR was seen, and how stale that is."""
    fresh = store_reads.freshness(context.store())
    last = fresh["last_job"] if fresh["last_job"] is not None else fresh["last_bucket"]
    age = None if last is None else context.now() - last
    return jsonify({"status": "ok", "store": repr(context.store()), "last_fwjr": last, "age_s": age, "freshness": freshness_level(age), **fresh})


@api.get("/aggregates")
def aggregates() -> Response:
    """Aggregate rows in the shared row contract, the CLI's read path.

    format=rows (default): {"rows": [{column: value, ...}, ...]}; format=compact: the same rows
    as {"columns": [name, ...], "rows": [[value, ...], ...]}, a third of the bytes, what the CLI
    reads. Serialized with orjson: a day of hour rows is ~36k rows of ~80 columns, and Flask's
    json (sorted keys, pure Python) took longer than the query.
    """
    given = params.current()
    start, end = given.range
    names, rows = store_reads.aggregate_rows(context.store(), start, end, given["precision"], given.filters)
    if given["format"] == "compact":
        body = orjson.dumps({"columns": names, "rows": rows})
    else:
        body = orjson.dumps({"rows": [dict(zip(names, row)) for row in rows]})
    return Response(body, mimetype="application/json")


@api.get("/error-rows")
def error_rows() -> Response:
    """Error rows (bucket, ERROR_KEYS, count) of the range at a precision, as {"columns", "rows"}:
    what `fwjr query errors` reads while the worker owns the store."""
    given = params.current()
    start, end = given.range
    rows = error_reads.error_rows(context.store(), start, end, given["precision"])
    names = ("bucket", *ERROR_KEYS, "count")
    return Response(orjson.dumps({"columns": names, "rows": [[row[n] for n in names] for row in rows]}), mimetype="application/json")


@api.get("/totals")
def totals() -> Response:
    """One summary of the range and filters: jobs, failure rate, efficiency, every metric."""
    given = params.current()
    start, end = given.range
    return jsonify({"from": start, "to": end, "totals": store_reads.totals(context.store(), start, end, given.filters)})


@api.get("/performance")
def performance_view() -> Response:
    """The explorer's view: same parameters as its URL (metric, stat, x, by, tf/from/to, page, filters)."""
    view = parse_view(params.current().given)
    ladder = sql.ladder(context.settings())
    result = performance.explore(context.store(), view, context.now(), ladder)
    return jsonify(result.as_json())


@api.get("/metrics")
def metrics() -> Response:
    """Every measure with its title, unit and applicable statistics."""
    return jsonify({"metrics": units.measures()})


@api.get("/axes")
def axes() -> Response:
    """Axes of the explorer (time or a scope key) and the keys filters accept."""
    return jsonify({"axes": list(performance.AXES), "filters": list(SCOPE_KEYS), "error_keys": list(ERROR_KEYS),
                    "timeframes": timeframe.PRESETS})


@api.get("/suggestions")
def suggestions() -> Response:
    """Values of a key seen in the range, most jobs first; exit codes come with descriptions."""
    given = params.current()
    key = given["key"]
    start, end = given.range
    values = store_reads.distinct_values(context.store(), key, start, end, given["prefix"], given["limit"])
    return jsonify({"key": key, "values": [_suggestion(key, v) for v in values]})


def _suggestion(key: str, value: Any) -> dict[str, Any]:
    if key == "exit_code":
        return {"value": value, "label": f"{value}: {exit_codes.describe(value)}"}
    return {"value": value, "label": str(value)}


@api.get("/exit-codes")
def exit_code_descriptions() -> Response:
    """Descriptions (and the operators' procedure) of the given codes, or of all known codes."""
    asked = params.current()["code"]
    codes = asked if asked else _known_codes()
    return jsonify({"exit_codes": [_code_entry(c) for c in codes]})


def _known_codes() -> list[int | str]:
    """Every code of the dictionary: the numbers in order, then the named ones (WMCORE-1, ...)."""
    known = exit_codes.dictionary()
    numbers = sorted(int(c) for c in known if c.lstrip("-").isdigit())
    return [*numbers, *sorted((c for c in known if not c.lstrip("-").isdigit()), key=lambda c: (len(c), c))]


def _code_entry(code: int | str) -> dict[str, Any]:
    procedure = exit_codes.procedure(code) if isinstance(code, int) else None
    entry: dict[str, Any] = {"code": code, "description": exit_codes.describe(code)}
    if procedure is not None:
        entry["procedure"] = {"cause": procedure.cause, "action": procedure.normal, "additional": procedure.additional}
    return entry


@api.get("/errors")
def errors() -> Response:
    """Error counts by two of workflow/task/step/site/exit_code, optionally split by a third."""
    given = params.current()
    start, end = given.range
    cells = error_reads.error_matrix(
        context.store(), start, end, given["rows"], given["columns"], given["split"] or None, given.filters, given["limit"],
    )
    return jsonify({"from": start, "to": end, "cells": cells})


@api.get("/jobs/failed")
def failed_jobs() -> Response:
    """The newest failed jobs, searchable by any text or id (q) and filterable by scope keys."""
    given = params.current()
    start, end = given.range
    jobs = job_reads.search_failed_jobs(context.store(), start, end, given["q"] or None, given.filters, given["limit"])
    for job in jobs:
        job["exit_code_description"] = exit_codes.describe(job["exit_code"])
        job["errors"] = orjson.loads(job["errors"] or "[]")  # stored as JSON text; answered as a list
    return jsonify({"from": start, "to": end, "jobs": jobs})


def register(server: Any) -> None:
    """Attach the API to the board's Flask server, and the parameter checks to every /api/v1 request."""
    params.install(server)
    server.register_blueprint(api)
