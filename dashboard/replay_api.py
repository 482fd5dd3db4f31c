"""POST /api/v1/replay/load: a replay's rows handed to the process that owns the store.

In the local default the worker process owns the embedded store and serves the board, so
`fwjr replay` (another process) cannot open the store; it computes the rows with Spark and
posts them here (format: fwjr.store.handover). This process replaces the range with its own
Store, whose lock keeps the stream's writes and the board's reads out of the swap.

The endpoint writes into the store, so it needs a token with the scope replay:write
(dashboard/auth.py); `fwjr replay` sends FWJR_REPLAY_TOKEN, or the token `fwjr up` left
under FWJR_HOME. Where the request comes from is not an identity.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify, request

from dashboard import context
from dashboard.auth import require
from fwjr.store.handover import ENDPOINT, decode_rows, replace_owned

log = logging.getLogger("fwjr.board.replay")
replay_api = Blueprint("replay_api", __name__)


@replay_api.post(ENDPOINT)
def load() -> tuple[Response, int]:
    principal = require("replay:write")
    try:
        start = int(request.args["start"])
        end = int(request.args["end"])
        batch = request.args["batch"]
        aggregates, errors = decode_rows(request.get_data(cache=False))
    except KeyError as missing:
        return jsonify({"error": f"replay load: query parameter {missing} is missing (need start, end, batch)"}), 400
    except ValueError as error:
        return jsonify({"error": f"replay load: {error}"}), 400
    try:
        summary = replace_owned(context.store(), context.settings(), start, end, aggregates, errors, batch)
    except ValueError as error:
        return jsonify({"error": f"replay load: {error}"}), 400
    log.info("replay %s by %s replaced [%s, %s): %s", batch, principal.name, start, end, summary)
    return jsonify(summary), 200


def register(server: object) -> None:
    """Attach the endpoint to the board's Flask server."""
    server.register_blueprint(replay_api)  # type: ignore[attr-defined]
