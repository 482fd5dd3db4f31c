"""The board's JSON API (/api/v1), on the same Flask server as the pages.

What the archive's `/data/performance` offered (metrics, axes, filters, suggestions,
exit-code descriptions), plus the raw aggregate rows the CLI reads while the local stack
owns the store, health and freshness. Every handler goes through fwjr.query; request
values reach SQL only as bound parameters. Bad input answers 400 with {"error": "..."}.
docs/api.md has examples.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from fwjr import exit_codes, query
from fwjr.bucket import check_precision
from fwjr.model import ERROR_KEYS, SCOPE_KEYS

from dashboard import context, performance, timeframe, units
from dashboard.components import freshness_level
from dashboard.state import error_filters, parse_view, query_filters

log = logging.getLogger("fwjr.board.api")
api = Blueprint("api", __name__, url_prefix="/api/v1")
SUGGESTION_LIMIT = 50
MAX_LIMIT = 10_000


class BadRequest(ValueError):
    """A request parameter that cannot be used; the message names it and its value."""


@api.errorhandler(ValueError)
def _bad_request(error: ValueError) -> tuple[Response, int]:
    return jsonify({"error": str(error)}), 400


@api.errorhandler(Exception)
def _failure(error: Exception) -> tuple[Response, int] | HTTPException:
    if isinstance(error, HTTPException):
        return error
    log.exception("API %s failed", request.path)
    return jsonify({"error": f"{type(error).__name__}: {error}"}), 500


def _range(default: str = "last7d") -> tuple[int, int]:
    args = request.args
    return timeframe.resolve(args.get("tf"), args.get("from"), args.get("to"), context.now(), default)


def _int(name: str, default: int, low: int = 0, high: int = MAX_LIMIT) -> int:
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name}={raw!r}: expected a whole number") from None
    if not low <= value <= high:
        raise BadRequest(f"{name}={value}: expected {low}..{high}")
    return value


def _filters(keys: tuple[str, ...] = SCOPE_KEYS) -> dict[str, Any]:
    texts = {k: request.args[k] for k in keys if request.args.get(k, "").strip()}
    return query_filters(texts) if keys == SCOPE_KEYS else error_filters(texts)


@api.get("/health")
def health() -> Response:
    """Liveness plus freshness: when the newest FWJR was seen, and how stale that is."""
    fresh = query.freshness(context.store())
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
    start, end = _range()
    precision = check_precision(request.args.get("precision", "hour"))
    fmt = request.args.get("format", "rows")
    if fmt not in ("rows", "compact"):
        raise BadRequest(f"format={fmt!r}: expected rows or compact")
    names, rows = query.aggregate_rows(context.store(), start, end, precision, _filters())
    if fmt == "compact":
        body = orjson.dumps({"columns": names, "rows": rows})
    else:
        body = orjson.dumps({"rows": [dict(zip(names, row)) for row in rows]})
    return Response(body, mimetype="application/json")


@api.get("/totals")
def totals() -> Response:
    """One summary of the range and filters: jobs, failure rate, efficiency, every metric."""
    start, end = _range()
    return jsonify({"from": start, "to": end, "totals": query.totals(context.store(), start, end, _filters())})


@api.get("/performance")
def performance_view() -> Response:
    """The explorer's view: same parameters as its URL (metric, stat, x, by, tf/from/to, page, filters)."""
    view = parse_view(request.args)
    ladder = query.ladder(context.settings())
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
    key = request.args.get("key", "")
    start, end = _range("last30d")
    limit = _int("limit", SUGGESTION_LIMIT, 1, 1000)
    values = query.distinct_values(context.store(), key, start, end, request.args.get("prefix", ""), limit)
    return jsonify({"key": key, "values": [_suggestion(key, v) for v in values]})


def _suggestion(key: str, value: Any) -> dict[str, Any]:
    if key == "exit_code":
        return {"value": value, "label": f"{value}: {exit_codes.describe(value)}"}
    return {"value": value, "label": str(value)}


@api.get("/exit-codes")
def exit_code_descriptions() -> Response:
    """Descriptions (and the operators' procedure) of the given codes, or of all known codes."""
    raw = request.args.get("code")
    codes = [c for c in raw.split(",") if c.strip()] if raw else sorted(exit_codes.dictionary(), key=int)
    return jsonify({"exit_codes": [_code_entry(c) for c in codes]})


def _code_entry(code: str) -> dict[str, Any]:
    try:
        number = int(code)
    except ValueError:
        raise BadRequest(f"code={code!r}: expected a whole number") from None
    procedure = exit_codes.procedure(number)
    entry: dict[str, Any] = {"code": number, "description": exit_codes.describe(number)}
    if procedure is not None:
        entry["procedure"] = {"cause": procedure.cause, "action": procedure.normal, "additional": procedure.additional}
    return entry


@api.get("/errors")
def errors() -> Response:
    """Error counts by two of workflow/task/step/site/exit_code, optionally split by a third."""
    start, end = _range("24h")
    args = request.args
    cells = query.error_matrix(
        context.store(), start, end, args.get("rows", "workflow"), args.get("columns", "site"),
        args.get("split") or None, _filters(ERROR_KEYS), _int("limit", 1000, 1, MAX_LIMIT),
    )
    return jsonify({"from": start, "to": end, "cells": cells})


@api.get("/jobs/failed")
def failed_jobs() -> Response:
    """The newest failed jobs, searchable by any text or id (q) and filterable by scope keys."""
    start, end = _range("24h")
    jobs = query.search_failed_jobs(context.store(), start, end, request.args.get("q") or None, _filters(), _int("limit", 100, 1, 1000))
    for job in jobs:
        job["exit_code_description"] = exit_codes.describe(job["exit_code"])
    return jsonify({"from": start, "to": end, "jobs": jobs})


def register(server: Any) -> None:
    """Attach the API to the board's Flask server."""
    server.register_blueprint(api)
