"""The performance explorer's data, shared by its page and the JSON API: one view -> the
groups to draw, the shape to draw them in, and what the numbers stand on.

Ratios and means are computed from sums in the query (job-weighted), never averaged again here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from dashboard import timeframe, units
from dashboard.figures import PIE_MAX_SLICES, STACK_MAX_SERIES
from dashboard.state import TIME_AXIS, View, query_filters
from fwjr.model import SCOPE_KEYS
from fwjr.store import reads
from fwjr.store.connection import Store

PAGE_SIZE = 15
HEATMAP_MAX_ROWS = 30
SERIES_MAX = 8
AXES: tuple[str, ...] = (TIME_AXIS,) + SCOPE_KEYS


@dataclass
class Exploration:
    """Everything a chart and its card need; `shape` is time, pie, bars or heatmap."""

    shape: str
    measure: str
    stat: str
    x: str
    by: str | None
    start: int
    end: int
    precision: str | None
    rows: list[dict] = field(default_factory=list)
    x_order: list[Any] = field(default_factory=list)
    by_order: list[Any] = field(default_factory=list)
    total: dict[str, Any] = field(default_factory=dict)
    has_more: bool = False
    page: int = 0
    query_ms: float = 0.0

    def as_json(self) -> dict[str, Any]:
        """The API's answer: the same numbers the page draws."""
        return {
            "shape": self.shape,
            "metric": self.measure,
            "stat": self.stat,
            "unit": units.unit_of(self.measure),
            "title": units.title_of(self.measure, self.stat),
            "x": self.x,
            "by": self.by,
            "from": self.start,
            "to": self.end,
            "precision": self.precision,
            "page": self.page,
            "page_size": PAGE_SIZE,
            "has_more": self.has_more,
            "total": self.total,
            "x_values": self.x_order,
            "by_values": self.by_order,
            "groups": self.rows,
            "query_ms": round(self.query_ms, 1),
        }


def check_view(view: View) -> tuple[str, str | None, str]:
    """The view's measure statistic, axes, validated with messages naming the bad value."""
    known = {m["id"]: m for m in units.measures()}
    if view.metric not in known:
        raise ValueError(f"metric={view.metric!r}: expected one of {', '.join(known)}")
    stat = view.stat or units.default_stat(view.metric)
    if stat not in known[view.metric]["stats"].split(","):
        raise ValueError(f"stat={stat!r} does not apply to {view.metric}; expected one of {known[view.metric]['stats']}")
    if view.x not in AXES:
        raise ValueError(f"x={view.x!r}: expected one of {', '.join(AXES)}")
    by = view.by or None
    if by is not None and (by not in SCOPE_KEYS or by == view.x):
        raise ValueError(f"by={view.by!r}: expected a scope key other than x ({', '.join(SCOPE_KEYS)})")
    return stat, by, view.x


def explore(store: Store, view: View, now: int, ladder: list[tuple[str, int | None]]) -> Exploration:
    """Run the view's queries (bound parameters only) and pick the chart shape."""
    stat, by, x = check_view(view)
    start, end = timeframe.resolve(view.tf, view.start, view.end, now)
    filters = query_filters(view.filters)
    started = time.perf_counter()
    result = Exploration(shape="bars", measure=view.metric, stat=stat, x=x, by=by, start=start, end=end, precision=None, page=view.page)
    if x == TIME_AXIS:
        _time_view(store, result, filters, now, ladder)
    else:
        _key_view(store, result, filters)
    if not result.total:  # an unsplit time view, an empty selection, or a page past the last value
        total = reads.measure_by(store, start, end, (), view.metric, stat, filters=filters)
        result.total = total[0] if total else {"value": None, "jobs": 0, "covered": 0}
    result.query_ms = (time.perf_counter() - started) * 1000
    return result


def _time_view(store: Store, result: Exploration, filters: dict, now: int, ladder: list) -> None:
    result.shape = "time"
    result.precision = timeframe.display_precision(result.start, result.end, now, ladder)
    only = None
    if result.by:  # the series drawn are the split values with the most jobs; the same scan gives the total
        ranked, _ = reads.ranking_page(
            store, result.start, result.end, result.by, result.measure, result.stat, filters, n=SERIES_MAX, rank_by="jobs"
        )
        result.by_order = [r[result.by] for r in ranked]
        only = {result.by: result.by_order}
        if ranked:
            result.total = _total_of(ranked[0])
    keys = (result.by,) if result.by else ()
    if result.by and not result.by_order:
        return
    result.rows = reads.measure_by(
        store, result.start, result.end, keys, result.measure, result.stat, result.precision, filters, only, limit=200_000
    )


def _key_view(store: Store, result: Exploration, filters: dict) -> None:
    ranked, result.has_more = reads.ranking_page(
        store, result.start, result.end, result.x, result.measure, result.stat, filters, n=PAGE_SIZE, offset=result.page * PAGE_SIZE
    )
    result.x_order = [r[result.x] for r in ranked]
    if ranked:
        result.total = _total_of(ranked[0])
    additive = result.stat == "sum" and units.unit_of(result.measure) != "ratio"
    if not result.by:
        result.rows = [{k: v for k, v in r.items() if not k.startswith("total_")} for r in ranked]
        few = result.page == 0 and not result.has_more and len(ranked) <= PIE_MAX_SLICES
        result.shape = "pie" if few and additive else "bars"
        return
    if not result.x_order:
        return
    rows = reads.measure_by(  # unsorted: most of these cells are dropped below, the rest sorted then
        store, result.start, result.end, (result.x, result.by), result.measure, result.stat,
        filters=filters, only={result.x: result.x_order}, limit=100_000, ordered=False,
    )
    weight: dict[Any, int] = {}
    for row in rows:
        weight[row[result.by]] = weight.get(row[result.by], 0) + row["jobs"]
    result.by_order = sorted(weight, key=lambda v: (-weight[v], str(v)))
    if len(result.by_order) > STACK_MAX_SERIES:
        result.shape = "heatmap"
        result.by_order = result.by_order[:HEATMAP_MAX_ROWS]
        kept = set(result.by_order)
        rows = [r for r in rows if r[result.by] in kept]
    result.rows = reads.by_value(rows, (result.x, result.by))


def _total_of(ranked: dict[str, Any]) -> dict[str, Any]:
    """The measure over the whole selection, as a ranking row carries it."""
    return {"value": ranked["total_value"], "jobs": ranked["total_jobs"], "covered": ranked["total_covered"]}
