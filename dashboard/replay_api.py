"""POST /api/v1/replay/load: a replay's rows handed to the process that owns the store.

In the local default the worker process owns the embedded store and serves the board, so
`fwjr replay` (another process) cannot open the store; it computes the rows with Spark and
posts them here (format: fwjr.replay_load). This process replaces the range with its own
Store, whose lock keeps the stream's writes and the board's reads out of the swap.

The endpoint writes into the store, so it answers only requests from the loopback
interface: the board may listen on a wider address, the store's owner is a local matter.
"""

from __future__ import annotations

import ipaddress
import logging

from flask import Blueprint, Response, jsonify, request

from dashboard import context
from fwjr.replay_load import ENDPOINT, decode_rows, replace_owned

log = logging.getLogger("fwjr.board.replay")
replay_api = Blueprint("replay_api", __name__)


@replay_api.post(ENDPOINT)
def load() -> tuple[Response, int]:
    if not _loopback(request.remote_addr):
        return jsonify({"error": f"replay loads are accepted from the loopback interface only, not {request.remote_addr}"}), 403
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
    log.info("replay %s replaced [%s, %s): %s", batch, start, end, summary)
    return jsonify(summary), 200


def _loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def register(server: object) -> None:
    """Attach the endpoint to the board's Flask server."""
    server.register_blueprint(replay_api)  # type: ignore[attr-defined]
