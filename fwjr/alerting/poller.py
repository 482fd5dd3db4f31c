"""Polling configured JSON status pages into status events (we read other monitoring, never probe).

An endpoint spec (setting `status_endpoints`):
    {"url": "https://status.example/api/v2/status.json",
     "service": "EOS",                       # fixed name, or take it from a field
     "items": "components",                  # optional: path to a list of entries
     "fields": {"service": "name", "state": "status", "message": "description", "ts": "updated_at"},
     "states": {"operational": "up", "degraded_performance": "degraded", "major_outage": "down"}}
A downtime feed (GOCDB- or SSB-like: a list of planned windows) fixes the state instead and maps
each window's start and end:
    {"url": "https://goc.example/downtimes.json", "items": "downtimes", "state": "maintenance",
     "fields": {"service": "HOSTNAME", "start": "START_DATE", "end": "END_DATE", "message": "DESCRIPTION"}}
Paths are dot-separated keys. Entries are turned into status documents; validation (and
rejection with a reason) happens where every status event is validated, in the worker.
"""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any


def _path(doc: Any, path: str | None) -> Any:
    if not path:
        return None
    for key in path.split("."):
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


def map_entries(spec: dict, payload: Any, now: int) -> list[dict]:
    """Status documents from one endpoint's JSON payload, by the spec's field and state mapping."""
    entries = _path(payload, spec["items"]) if spec.get("items") else [payload]
    if not isinstance(entries, list):
        raise ValueError(f"status endpoint {spec.get('url')}: items path {spec.get('items')!r} is not a list")
    fields = spec.get("fields", {})
    states = spec.get("states", {})
    docs = []
    for entry in entries:
        raw_state = spec.get("state") or _path(entry, fields.get("state", "state"))
        state = states.get(str(raw_state), raw_state)
        ts = _path(entry, fields.get("ts")) if fields.get("ts") else None
        doc = {
            "service": spec.get("service") or _path(entry, fields.get("service", "service")),
            "state": state,
            "ts": ts if ts is not None else now,
            "message": str(_path(entry, fields.get("message")) or ""),
            "source": spec.get("url", ""),
        }
        for name in ("start", "end"):  # a planned window (maintenance)
            if fields.get(name):
                doc[name] = _path(entry, fields[name])
        docs.append(doc)
    return docs


def poll(spec: dict, timeout: float = 10.0) -> list[dict]:
    """Fetch one endpoint and map it; raises with the URL when it cannot be read."""
    url = spec.get("url")
    if not url:
        raise ValueError(f"status endpoint {spec!r}: no url")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            payload = json.loads(response.read())
    except (OSError, ValueError) as exc:
        raise RuntimeError(f"status endpoint {url}: {exc}") from exc
    return map_entries(spec, payload, int(time.time()))
