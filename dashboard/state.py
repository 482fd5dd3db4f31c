"""A view's whole state as URL query parameters, so any view can be shared as a link.

Filters use the scope key as the parameter name; a value starting with "~" is a regular
expression (re2, matched anywhere: anchor it with ^...$), anything else an exact value:

    /explorer?site=~^T2_&exit_code=8021&metric=PeakValueRss&stat=avg&x=site&by=jobtype&tf=last7d
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlencode

import re2

from fwjr.model import ERROR_KEYS, SCOPE_KEYS

REGEX_MARK = "~"
TIME_AXIS = "time"
EXIT_CODE_RANGE = (-(2**31), 2**31 - 1)  # the store's exit_code is Int32: a larger bound value wraps
# Filter keys whose columns are numbers: key -> (lowest, highest, whether fwjr.store.sql matches a
# ~regex on its text form). retry_count (UInt16) is compared as it is stored, so a regex on it
# cannot run and a value past 65535 would wrap.
NUMERIC_KEYS: dict[str, tuple[int, int, bool]] = {
    "exit_code": (*EXIT_CODE_RANGE, True),
    "retry_count": (0, 2**16 - 1, False),
}
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # the message goes into the ValueError, not to stderr


@dataclass(frozen=True)
class View:
    """What the explorer shows: filters, timeframe, measure and axes, page of the ranking."""

    filters: dict[str, str] = field(default_factory=dict)
    tf: str = "last7d"
    start: str = ""
    end: str = ""
    metric: str = "jobs"
    stat: str = "sum"
    x: str = "site"
    by: str = "jobstate"
    page: int = 0

    def with_filters(self, **changes: str) -> "View":
        """The same view with some filters set (drill-down) and the ranking back on page 0."""
        merged = {**self.filters, **{k: str(v) for k, v in changes.items()}}
        return replace(self, filters={k: v for k, v in merged.items() if v != ""}, page=0)


def parse_view(params: Mapping[str, Any], keys: Sequence[str] = SCOPE_KEYS) -> View:
    """A View from URL query parameters (strings); unknown parameters are ignored."""
    filters = {k: str(params[k]) for k in keys if str(params.get(k, "") or "").strip()}
    try:
        page = max(int(params.get("page", 0) or 0), 0)
    except (TypeError, ValueError):
        raise ValueError(f"page={params.get('page')!r}: expected a whole number") from None
    defaults = View()
    return View(
        filters=filters,
        tf=str(params.get("tf") or defaults.tf),
        start=str(params.get("from") or ""),
        end=str(params.get("to") or ""),
        metric=str(params.get("metric") or defaults.metric),
        stat=str(params.get("stat") or ""),
        x=str(params.get("x") or defaults.x),
        by=str(params.get("by") if params.get("by") is not None else defaults.by),
        page=page,
    )


def view_search(view: View) -> str:
    """The query string ("?..." ) that `parse_view` turns back into the same View."""
    params: dict[str, Any] = dict(sorted(view.filters.items()))
    params["tf"] = view.tf
    if view.start and view.end:
        params["from"], params["to"] = view.start, view.end
    params.update({"metric": view.metric, "x": view.x, "by": view.by})
    if view.stat:
        params["stat"] = view.stat
    if view.page:
        params["page"] = view.page
    return "?" + urlencode(params)


def query_filters(filters: Mapping[str, str], keys: Sequence[str] = SCOPE_KEYS) -> dict[str, Any]:
    """URL filter texts as fwjr.store.sql filters: "~re" -> {"regex": re}, else the exact value."""
    out: dict[str, Any] = {}
    for key, text in filters.items():
        if key not in keys:
            raise ValueError(f"unknown filter {key!r}; expected one of {', '.join(keys)}")
        out[key] = filter_value(key, text)
    return out


def filter_value(key: str, text: str) -> Any:
    """One filter text as fwjr.store.sql takes it; a ValueError naming key and text when the store could not use it.

    A regular expression is compiled here with re2, the library (and dialect) ClickHouse's
    `match` uses, so a bad one is refused with re2's message instead of failing in the store;
    a numeric key's exact value must be a whole number its column holds (NUMERIC_KEYS).
    """
    text = text.strip()
    low, high, regex_allowed = NUMERIC_KEYS.get(key, (0, 0, True))
    if text.startswith(REGEX_MARK):
        if not regex_allowed:
            raise ValueError(f"filter {key}={text!r}: {key} is a number; expected a whole number from {low} to {high}, not a ~regex")
        pattern = text[len(REGEX_MARK):]
        problem = regex_problem(pattern)
        if problem is not None:
            raise ValueError(f"filter {key}={text!r}: not a valid re2 regular expression: {problem}")
        return {"regex": pattern}
    if key not in NUMERIC_KEYS:
        return text
    alternative = ", or ~regex" if regex_allowed else ""
    try:
        number = int(text)
    except ValueError:
        raise ValueError(f"filter {key}={text!r}: expected a whole number{alternative}") from None
    if not low <= number <= high:
        raise ValueError(f"filter {key}={text!r}: expected a whole number from {low} to {high}{alternative}")
    return number


@lru_cache(maxsize=1024)
def regex_problem(pattern: str) -> str | None:
    """re2's compile error for `pattern` ("missing ): ("), or None when it compiles."""
    try:
        re2.compile(pattern, options=_RE2_OPTIONS)
    except re2.error as error:
        reason = error.args[0] if error.args else "does not compile"
        return reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)
    return None


def error_filters(filters: Mapping[str, str]) -> dict[str, Any]:
    """The same, for the error tables' keys (fwjr.model.ERROR_KEYS: workflow, task, step, site, exit_code, retry_count, signature)."""
    return query_filters(filters, ERROR_KEYS)


def params_of(search: str | None) -> dict[str, str]:
    """A query string ("?a=1&b=2") as a dict of its last values."""
    return dict(parse_qsl((search or "").lstrip("?"), keep_blank_values=True))


def search_with(search: str | None, **changes: Any) -> str:
    """The query string with some parameters changed; empty values are dropped."""
    params = {**params_of(search), **{k: "" if v is None else str(v) for k, v in changes.items()}}
    return "?" + urlencode({k: v for k, v in params.items() if v != ""})
