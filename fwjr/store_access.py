"""Reading the store from a CLI process: directly, or through the running stack's API.

An embedded store can be opened by one process only; while `fwjr up` runs, the worker
owns it, so the CLI asks the board's JSON API instead of failing on the lock.
"""

from __future__ import annotations

import urllib.parse
import urllib.request

import orjson

from fwjr.config import Settings
from fwjr.store import StoreBusyError, connect


def read_aggregates(settings: Settings, start: int, end: int, precision: str) -> list[dict]:
    """Aggregate rows (the shared row contract) for [start, end) at `precision`."""
    from fwjr import query

    try:
        store = connect(settings)
    except StoreBusyError:
        return _api_rows(settings, "aggregates", {"from": start, "to": end, "precision": precision, "format": "compact"})
    with store:
        return query.aggregates(store, start, end, precision)


def read_error_rows(settings: Settings, start: int, end: int, precision: str) -> list[dict]:
    """Error rows (bucket, ERROR_KEYS, count) for [start, end) at `precision`."""
    from fwjr import query

    try:
        store = connect(settings)
    except StoreBusyError:
        return _api_rows(settings, "error-rows", {"from": start, "to": end, "precision": precision})
    with store:
        return query.error_rows(store, start, end, precision)


def _api_rows(settings: Settings, path: str, params: dict) -> list[dict]:
    """Rows of an API answer of the form {"columns": [...], "rows": [[...], ...]}."""
    url = f"http://{settings.dashboard_host}:{settings.dashboard_port}/api/v1/{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=60) as response:
        body = orjson.loads(response.read())
    names = body["columns"]
    return [dict(zip(names, row)) for row in body["rows"]]
