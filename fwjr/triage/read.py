"""Triage for the CLI: from the store, or from the board's API while the local stack owns the store.

An embedded store is open in one process only; while `fwjr up` runs, the worker holds it and
the board in its process answers GET /api/v1/triage with the same decisions.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

import orjson

from fwjr.config import Settings
from fwjr.store import StoreBusyError, connect

FILTER_KEYS: tuple[str, ...] = ("workflow", "task", "site", "exit_code", "campaign", "jobtype")


def store_filters(given: Mapping[str, str]) -> dict[str, Any]:
    """CLI filter texts as fwjr.query filters: `~pattern` is an re2 pattern, anything else exact."""
    filters: dict[str, Any] = {}
    for key, text in given.items():
        if key not in FILTER_KEYS:
            raise ValueError(f"triage filter {key!r}: expected one of {', '.join(FILTER_KEYS)}")
        if text.startswith("~"):
            filters[key] = {"regex": text[1:]}
        elif key == "exit_code":
            try:
                filters[key] = int(text)
            except ValueError:
                raise ValueError(f"--exit-code {text!r}: expected a whole number") from None
        else:
            filters[key] = text
    return filters


def read_triage(settings: Settings, start: int, end: int, given: Mapping[str, str]) -> list[dict[str, Any]]:
    """One decision (as a dict) per failing workflow the filters select in [start, end), each over
    all its jobs (fwjr.triage.select), most wasted core-hours first."""
    from fwjr.triage.select import triage_selected

    filters = store_filters(given)
    try:
        store = connect(settings)
    except StoreBusyError:
        return _api_decisions(settings, start, end, given)
    with store:
        return [d.as_dict() for d in triage_selected(store, start, end, filters, settings=settings)]


def _api_decisions(settings: Settings, start: int, end: int, given: Mapping[str, str]) -> list[dict[str, Any]]:
    params = urllib.parse.urlencode({"from": start, "to": end, **given})
    url = f"http://{settings.dashboard_host}:{settings.dashboard_port}/api/v1/triage?{params}"
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            return orjson.loads(response.read())["workflows"]
    except urllib.error.HTTPError as error:
        raise ValueError(f"GET {url} answered {error.code}: {error.read().decode(errors='replace')[:500]}") from None
