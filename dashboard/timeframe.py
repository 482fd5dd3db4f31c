"""Time windows of the board: presets, custom ranges, and the precision each one is drawn at.

Presets are computed in UTC (buckets are UTC everywhere). The precision shown is the
finest one the store still holds for the whole range (fwjr.store.sql.finest_precision), made
coarser until the chart has at most MAX_POINTS buckets, so a year never ships 500k points.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import Any

from fwjr.bucket import FIXED_SECONDS, STORED_PRECISIONS, parse_iso
from fwjr.store import sql

MAX_POINTS = 1500
# Preset id -> label, in the order the explorer lists them.
PRESETS: dict[str, str] = {
    "today": "Today",
    "yesterday": "Yesterday",
    "last7d": "Last 7 days",
    "last30d": "Last 30 days",
    "thismonth": "This month",
    "lastmonth": "Last month",
    "custom": "Custom",
}
# The overview's rolling windows: id -> (label, seconds).
WINDOWS: dict[str, tuple[str, int]] = {
    "1h": ("Last 1 h", 3600),
    "6h": ("Last 6 h", 6 * 3600),
    "24h": ("Last 24 h", 86400),
    "7d": ("Last 7 d", 7 * 86400),
}
_ROLLING: dict[str, int] = {key: seconds for key, (_, seconds) in WINDOWS.items()}
# Nominal bucket lengths, months as 31 days: for counting points and for rates, not for bucketing.
_STEP_SECONDS = {**FIXED_SECONDS, "week": 7 * 86400, "month": 31 * 86400}
# What the store's DateTime('UTC') holds: 1970-01-01T00:00:00Z .. 2106-02-07T06:28:15Z. A bound
# time outside it would wrap or clamp in the engine and select the wrong range without an error.
TIME_MIN, TIME_MAX = 0, 2**32 - 1


def parse_time(text: Any, name: str) -> int:
    """Epoch seconds from epoch text or ISO-8601 (naive = UTC); the error names the parameter.

    Refused (ValueError): text that is neither, nan/inf, and times the store cannot hold.
    """
    raw = str(text).strip()
    try:
        number = float(raw)
    except ValueError:
        try:
            value = parse_iso(raw)
        except (ValueError, OverflowError):
            raise ValueError(f"{name}={raw!r}: expected epoch seconds or an ISO-8601 time such as 2026-11-20T00:00:00Z") from None
    else:
        if not math.isfinite(number):
            raise ValueError(f"{name}={raw!r}: expected a finite number of epoch seconds")
        value = int(number)
    if not TIME_MIN <= value <= TIME_MAX:
        raise ValueError(f"{name}={raw!r}: outside the times the store holds (epoch {TIME_MIN}..{TIME_MAX}, 1970..2106)")
    return value


def preset_range(preset: str, now: int) -> tuple[int, int]:
    """[start, end) of a named preset (explorer presets and overview windows) at `now`."""
    if preset in _ROLLING:
        return now - _ROLLING[preset], now
    moment = datetime.fromtimestamp(now, tz=timezone.utc)
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    first_of_month = midnight.replace(day=1)
    if preset == "today":
        return int(midnight.timestamp()), now
    if preset == "yesterday":
        return int((midnight - timedelta(days=1)).timestamp()), int(midnight.timestamp())
    if preset == "last7d":
        return now - 7 * 86400, now
    if preset == "last30d":
        return now - 30 * 86400, now
    if preset == "thismonth":
        return int(first_of_month.timestamp()), now
    if preset == "lastmonth":
        previous = (first_of_month - timedelta(days=1)).replace(day=1)
        return int(previous.timestamp()), int(first_of_month.timestamp())
    known = ", ".join(list(PRESETS) + list(WINDOWS))
    raise ValueError(f"unknown timeframe {preset!r}; expected one of {known}")


def preset_of(preset: str | None, start: Any, end: Any, default: str = "last7d") -> str | None:
    """The preset a request means, None when it gives its own range: explicit from/to win over a
    preset ("custom" needs both). A preset's decisions come from the board's snapshot of it."""
    if start not in (None, "") and end not in (None, ""):
        return None
    if preset == "custom":
        raise ValueError("timeframe 'custom' needs both from and to")
    return preset or default


def resolve(preset: str | None, start: Any, end: Any, now: int, default: str = "last7d") -> tuple[int, int]:
    """The range a request means at `now`: its preset's (`preset_of`), or its own from/to."""
    named = preset_of(preset, start, end, default)
    if named is not None:
        return preset_range(named, now)
    first, last = parse_time(start, "from"), parse_time(end, "to")
    if last <= first:
        raise ValueError(f"from={start!r} is not before to={end!r}")
    return first, last


def display_precision(start: int, end: int, now: int, ladder: list[tuple[str, int | None]]) -> str:
    """The finest stored precision of the range, coarsened until it fits MAX_POINTS buckets."""
    finest = sql.finest_precision(start, end, now, ladder)
    for precision in STORED_PRECISIONS[STORED_PRECISIONS.index(finest):]:
        if (end - start) / _STEP_SECONDS[precision] <= MAX_POINTS:
            return precision
    return "month"


def step_seconds(precision: str) -> int:
    """Nominal length of a bucket (months as 31 days), for rates such as jobs per minute."""
    return _STEP_SECONDS[precision]
