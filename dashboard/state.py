"""A view's whole state as URL query parameters, so any view can be shared as a link.

Filters use the scope key as the parameter name; a value starting with "~" is a regular
expression (re2, matched anywhere: anchor it with ^...$), anything else an exact value:

    /explorer?site=~^T2_&exit_code=8021&metric=PeakValueRss&stat=avg&x=site&by=jobtype&tf=last7d
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fwjr.model import ERROR_KEYS, SCOPE_KEYS

REGEX_MARK = "~"
TIME_AXIS = "time"


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
    """URL filter texts as fwjr.query filters: "~re" -> {"regex": re}, else the exact value."""
    out: dict[str, Any] = {}
    for key, text in filters.items():
        if key not in keys:
            raise ValueError(f"unknown filter {key!r}; expected one of {', '.join(keys)}")
        text = text.strip()
        if text.startswith(REGEX_MARK):
            out[key] = {"regex": text[len(REGEX_MARK):]}
        elif key == "exit_code":
            try:
                out[key] = int(text)
            except ValueError:
                raise ValueError(f"filter exit_code={text!r}: expected a whole number, or ~regex") from None
        else:
            out[key] = text
    return out


def error_filters(filters: Mapping[str, str]) -> dict[str, Any]:
    """The same, for the error tables' keys (workflow, task, step, site, exit_code)."""
    return query_filters(filters, ERROR_KEYS)


def params_of(search: str | None) -> dict[str, str]:
    """A query string ("?a=1&b=2") as a dict of its last values."""
    return dict(parse_qsl((search or "").lstrip("?"), keep_blank_values=True))


def search_with(search: str | None, **changes: Any) -> str:
    """The query string with some parameters changed; empty values are dropped."""
    params = {**params_of(search), **{k: "" if v is None else str(v) for k, v in changes.items()}}
    return "?" + urlencode({k: v for k, v in params.items() if v != ""})
