"""Reaching the store from any process: directly, or through the process that owns it.

An embedded chDB store can be opened by one process only. While `fwjr up` runs, its worker
owns the store and serves the board's JSON API, so a CLI or replay process asks the owner
instead of failing on the lock. With a ClickHouse server, or when nobody owns the embedded
store, the caller connects itself. Every "open the store, else ask its owner" goes through
`direct_or_owner`; the owner is reached over HTTP only here.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from fwjr.config import Settings
from fwjr.store.connection import Store, StoreBusyError, connect

T = TypeVar("T")
API_TIMEOUT_SECONDS = 120


def direct_or_owner(settings: Settings, direct: Callable[[Store], T], owner: Callable[[], T]) -> T:
    """`direct(store)` on a store this process opens, else `owner()` when another process holds it."""
    try:
        store = connect(settings)
    except StoreBusyError:
        return owner()
    with store:
        return direct(store)


def owner_url(settings: Settings, path: str) -> str:
    """The owner's board URL for an API path ("/api/v1/..." or a path under it)."""
    prefix = "" if path.startswith("/") else "/api/v1/"
    return f"http://{settings.dashboard_host}:{settings.dashboard_port}{prefix}{path}"


def owner_get(settings: Settings, path: str, params: Mapping[str, object]) -> dict[str, Any]:
    """GET the owner's JSON API; a 404 with a JSON body is an answer ("not found"), any other
    refusal a RuntimeError with the URL and the owner's text."""
    query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
    url = f"{owner_url(settings, path)}?{query}"
    try:
        with urllib.request.urlopen(url, timeout=API_TIMEOUT_SECONDS) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        body = error.read()
        if error.code == 404:
            try:
                return json.loads(body)
            except ValueError:
                pass
        raise RuntimeError(f"GET {url} answered {error.code}: {body.decode(errors='replace')[:500]}") from None


def owner_rows(settings: Settings, path: str, params: Mapping[str, object]) -> list[dict[str, Any]]:
    """Rows of an owner's answer of the form {"columns": [...], "rows": [[...], ...]}."""
    body = owner_get(settings, path, params)
    names = body["columns"]
    return [dict(zip(names, row)) for row in body["rows"]]


def owner_post(settings: Settings, path: str, params: Mapping[str, object], body: bytes, content_type: str, token: str,
               timeout: float, what: str) -> dict[str, Any]:
    """POST `body` to the owner with a bearer token; its JSON answer. A refusal or no answer is a
    RuntimeError saying which and what to check."""
    url = f"{owner_url(settings, path)}?{urllib.parse.urlencode(params)}"
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": content_type, "Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        detail = error.read().decode(errors="replace")[:2000]
        raise RuntimeError(f"the store's owner at {url} refused {what} ({error.code}): {detail}") from None
    except urllib.error.URLError as error:
        raise RuntimeError(
            f"the embedded store is owned by another process, and its board at {owner_url(settings, path)} "
            f"did not answer ({error.reason}); is `fwjr up` still starting, or was it stopped uncleanly?"
        ) from None
