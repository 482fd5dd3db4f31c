"""The time range of a replay: operator dates in, whole stored buckets out.

Dates are given the way the archive's own tools took them: `YYYY-MM-DD`, a number of days
ago (`0` today, `1` yesterday, at 00:00 UTC) or a full ISO timestamp. The range is half-open,
like every range in the query layer, so `--from 1 --to 0` is all of yesterday.

A replay replaces what the store holds for its range. Rows older than the TTL ladder's ages are
already rolled up to hours, days or months, so the range is widened to whole buckets of the
coarsest precision its oldest point may have: a rolled-up row is then replaced whole or not at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from fwjr import bucket
from fwjr.store.sql import align, finest_precision

_DAY = 86400
_DAYS_AGO = re.compile(r"-?\d{1,5}")


def parse_when(text: str, now: int, option: str = "date") -> int:
    """Epoch seconds (UTC) for a replay date: YYYY-MM-DD, N days ago, or an ISO timestamp."""
    value = text.strip()
    if _DAYS_AGO.fullmatch(value):
        today = datetime.fromtimestamp(now, tz=timezone.utc).date()
        day = today - timedelta(days=int(value))
        return int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp())
    try:
        return bucket.parse_iso(value)
    except ValueError:
        raise ValueError(
            f"{option} {text!r}: expected YYYY-MM-DD, a number of days ago (0 today, 1 yesterday) "
            "or an ISO timestamp such as 2026-11-20T06:00:00Z"
        ) from None


@dataclass(frozen=True)
class ReplayRange:
    """What the operator asked for, and the whole-bucket range that will be replaced."""

    requested_start: int
    requested_end: int
    start: int
    end: int
    stored_precision: str

    def describe(self) -> str:
        text = f"[{bucket.iso(self.start)}, {bucket.iso(self.end)})"
        if (self.start, self.end) != (self.requested_start, self.requested_end):
            text += f" (widened to whole {self.stored_precision} buckets, as the store holds them)"
        return text


def replay_range(start_text: str, end_text: str, now: int, ladder: list[tuple[str, Any]], precision: str) -> ReplayRange:
    """The range to rebuild: parsed, checked, and aligned to the coarser of `precision` and what
    the store may have rolled the oldest point up to."""
    start = parse_when(start_text, now, "--from")
    end = parse_when(end_text, now, "--to")
    if end <= start:
        raise ValueError(
            f"--from {start_text!r} ({bucket.iso(start)}) is not before --to {end_text!r} ({bucket.iso(end)}): "
            "the range is half-open, e.g. --from 1 --to 0 is yesterday"
        )
    stored = finest_precision(start, end, now, ladder)
    written = bucket.coarsest(stored, precision)
    first, stop = align(start, end, written)
    return ReplayRange(start, end, first, stop, written)
