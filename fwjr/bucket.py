"""UTC time buckets: the one bucketing implementation every path calls.

Buckets are computed on epoch seconds with integer arithmetic (no local time, no
tz database), so a DST change anywhere cannot move a boundary. Weeks start on Monday.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Final

# Every precision, finest first.
PRECISIONS: tuple[str, ...] = ("minute", "hour", "day", "week", "month")
# The precisions the store keeps rows at, finest first (the TTL ladder of sql/, the replay's
# writes); weeks straddle months, so they are only read, by re-bucketing days.
STORED_PRECISIONS: tuple[str, ...] = ("minute", "hour", "day", "month")
# Precisions whose buckets all have the same length, in seconds.
FIXED_SECONDS: Final = {"minute": 60, "hour": 3600, "day": 86400}
_DAY: Final = 86400
# 1970-01-01 was a Thursday: three days after a Monday.
_MONDAY_SHIFT: Final = 3


def bucket_start(ts: int, precision: str) -> int:
    """The epoch second at which the `precision` bucket holding `ts` starts (UTC)."""
    size = FIXED_SECONDS.get(precision)
    if size is not None:
        return ts - ts % size
    if precision == "week":
        day = ts - ts % _DAY
        return day - ((day // _DAY + _MONDAY_SHIFT) % 7) * _DAY
    if precision == "month":
        moment = datetime.fromtimestamp(ts - ts % _DAY, tz=timezone.utc)
        return int(datetime(moment.year, moment.month, 1, tzinfo=timezone.utc).timestamp())
    raise ValueError(f"unknown precision {precision!r}; expected one of {', '.join(PRECISIONS)}")


def next_bucket(bucket: int, precision: str) -> int:
    """The start of the bucket after the `precision` bucket starting at `bucket`."""
    if precision == "month":
        return bucket_start(bucket + 32 * _DAY, "month")
    if precision == "week":
        return bucket + 7 * _DAY
    return bucket + FIXED_SECONDS[check_precision(precision)]


def coarsest(*precisions: str) -> str:
    """The coarsest of the given precisions."""
    return max((check_precision(p) for p in precisions), key=PRECISIONS.index)


def check_precision(precision: str) -> str:
    """The precision itself, or a ValueError naming the valid ones."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; expected one of {', '.join(PRECISIONS)}")
    return precision


def is_coarser_or_equal(coarse: str, fine: str) -> bool:
    """Whether every `fine` bucket lies inside exactly one `coarse` bucket.

    Weeks and months do not nest: a week holds whole days, but straddles month ends.
    """
    if coarse == fine:
        return True
    if coarse == "week":
        return fine in FIXED_SECONDS
    return PRECISIONS.index(coarse) > PRECISIONS.index(fine) and fine != "week"


def iso(ts: int) -> str:
    """An epoch second as the ISO-8601 UTC text used in every output format."""
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> int:
    """The inverse of `iso`, also accepting dates and offsets (naive times are UTC)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp())
