"""UTC bucket boundaries: every precision, Monday weeks, month ends, leap day, year end, DST dates."""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fwjr.bucket import PRECISIONS, bucket_start, check_precision, is_coarser_or_equal, iso, parse_iso


def utc(*parts: int) -> int:
    """Epoch seconds of a UTC wall-clock time, computed without the code under test."""
    return calendar.timegm(tuple(parts) + (0,) * (6 - len(parts)))


def test_known_epochs() -> None:
    assert utc(2024, 1, 1) == 1704067200
    assert bucket_start(1704067199, "day") == 1703980800  # 2023-12-31T00:00Z
    assert bucket_start(0, "week") == -3 * 86400  # 1970-01-01 was a Thursday


@pytest.mark.parametrize(
    "moment, precision, start",
    [
        ((2024, 5, 14, 13, 37, 59), "minute", (2024, 5, 14, 13, 37)),
        ((2024, 5, 14, 13, 38, 0), "minute", (2024, 5, 14, 13, 38)),
        ((2024, 5, 14, 13, 59, 59), "hour", (2024, 5, 14, 13)),
        ((2024, 5, 14, 14, 0, 0), "hour", (2024, 5, 14, 14)),
        ((2024, 5, 14, 23, 59, 59), "day", (2024, 5, 14)),
        ((2024, 5, 15, 0, 0, 0), "day", (2024, 5, 15)),
        # weeks start on Monday 00:00 UTC
        ((2024, 5, 19, 23, 59, 59), "week", (2024, 5, 13)),  # Sunday
        ((2024, 5, 20, 0, 0, 0), "week", (2024, 5, 20)),  # Monday
        ((2024, 5, 22, 12, 0, 0), "week", (2024, 5, 20)),  # Wednesday
        # months
        ((2024, 4, 30, 23, 59, 59), "month", (2024, 4, 1)),
        ((2024, 5, 1, 0, 0, 0), "month", (2024, 5, 1)),
        # leap day
        ((2024, 2, 28, 23, 59, 59), "day", (2024, 2, 28)),
        ((2024, 2, 29, 0, 0, 0), "day", (2024, 2, 29)),
        ((2024, 2, 29, 23, 59, 59), "day", (2024, 2, 29)),
        ((2024, 2, 29, 23, 59, 59), "month", (2024, 2, 1)),
        ((2024, 3, 1, 0, 0, 0), "month", (2024, 3, 1)),
        ((2024, 2, 29, 12, 0, 0), "week", (2024, 2, 26)),
        ((2023, 2, 28, 23, 59, 59), "month", (2023, 2, 1)),
        ((2023, 3, 1, 0, 0, 0), "month", (2023, 3, 1)),
        # year end; the week of 2023-12-31 (a Sunday) began in December, 2024-01-01 is a Monday
        ((2023, 12, 31, 23, 59, 59), "minute", (2023, 12, 31, 23, 59)),
        ((2023, 12, 31, 23, 59, 59), "hour", (2023, 12, 31, 23)),
        ((2023, 12, 31, 23, 59, 59), "day", (2023, 12, 31)),
        ((2023, 12, 31, 23, 59, 59), "week", (2023, 12, 25)),
        ((2023, 12, 31, 23, 59, 59), "month", (2023, 12, 1)),
        ((2024, 1, 1, 0, 0, 0), "week", (2024, 1, 1)),
        ((2024, 1, 1, 0, 0, 0), "month", (2024, 1, 1)),
        # a week straddling the year end starts in the old year
        ((2025, 1, 1, 8, 0, 0), "week", (2024, 12, 30)),
        ((2025, 1, 1, 8, 0, 0), "month", (2025, 1, 1)),
    ],
)
def test_boundaries(moment: tuple, precision: str, start: tuple) -> None:
    assert bucket_start(utc(*moment), precision) == utc(*start)


# (zone, local date of the change): spring forward and fall back, Europe and the US.
DST_DATES = [
    ("Europe/Zurich", (2024, 3, 31)),
    ("Europe/Zurich", (2024, 10, 27)),
    ("America/New_York", (2024, 3, 10)),
    ("America/New_York", (2024, 11, 3)),
    ("America/Chicago", (2023, 3, 12)),
    ("Europe/London", (2023, 10, 29)),
]


def _offset(ts: int, tz: ZoneInfo) -> timedelta:
    return datetime.fromtimestamp(ts, tz=tz).utcoffset()


@pytest.mark.parametrize("zone, day", DST_DATES)
def test_dst_changes_do_not_move_utc_boundaries(zone: str, day: tuple) -> None:
    """The zone's clock jumps or repeats an hour that local day; UTC buckets around the change do not."""
    tz = ZoneInfo(zone)
    local_day = datetime(*day, tzinfo=tz)
    start, end = int(local_day.timestamp()), int((local_day + timedelta(days=1)).timestamp())
    changes = [ts for ts in range(start, end, 60) if _offset(ts, tz) != _offset(ts - 60, tz)]
    assert len(changes) == 1, f"{zone} changes its UTC offset once on {day}"
    change = changes[0]
    shift = int((_offset(change, tz) - _offset(change - 60, tz)).total_seconds())
    assert abs(shift) == 3600 and end - start == 86400 - shift  # a 23 h or a 25 h local day
    for ts in (change - 3601, change - 1, change, change + 1, change + 1799, change + 3600):
        for precision in ("minute", "hour", "day", "week", "month"):
            assert bucket_start(ts, precision) == _oracle(ts, precision), (iso(ts), precision)
    # the local day's hours, 23 or 25 on the clock, are as many contiguous UTC hours
    hours = sorted({bucket_start(ts, "hour") for ts in range(start, end, 600)})
    assert hours == list(range(start, end, 3600))
    # UTC midnight of that date is where the day bucket turns, whatever the zone's clock says
    midnight = utc(*day)
    for precision in ("minute", "hour", "day"):
        assert bucket_start(midnight - 1, precision) < midnight == bucket_start(midnight, precision)
    assert bucket_start(midnight - 1, "day") == midnight - 86400
    assert bucket_start(midnight + 86399, "day") == midnight


@pytest.mark.parametrize("zone, day", DST_DATES)
def test_local_midnight_on_dst_dates_lands_in_the_utc_day_it_belongs_to(zone: str, day: tuple) -> None:
    tz = ZoneInfo(zone)
    local_midnight = datetime(*day, tzinfo=tz)
    for delta in (-1, 0, 1):
        moment = local_midnight + timedelta(seconds=delta)
        ts = int(moment.timestamp())
        expected = datetime.fromtimestamp(ts, tz=timezone.utc).replace(hour=0, minute=0, second=0)
        assert bucket_start(ts, "day") == int(expected.timestamp())
        assert iso(bucket_start(ts, "day")).endswith("T00:00:00Z")


def _oracle(ts: int, precision: str) -> int:
    """The bucket start computed through datetime, independently of fwjr.bucket."""
    moment = datetime.fromtimestamp(ts, tz=timezone.utc)
    if precision == "minute":
        moment = moment.replace(second=0)
    elif precision == "hour":
        moment = moment.replace(minute=0, second=0)
    elif precision == "day":
        moment = moment.replace(hour=0, minute=0, second=0)
    elif precision == "week":
        moment = moment.replace(hour=0, minute=0, second=0) - timedelta(days=moment.weekday())
    else:
        moment = moment.replace(day=1, hour=0, minute=0, second=0)
    return int(moment.timestamp())


@settings(max_examples=500, deadline=None)
@given(ts=st.integers(min_value=0, max_value=utc(2100, 1, 1)), precision=st.sampled_from(PRECISIONS))
def test_bucket_matches_calendar_oracle(ts: int, precision: str) -> None:
    start = bucket_start(ts, precision)
    assert start == _oracle(ts, precision)
    assert start <= ts
    assert bucket_start(start, precision) == start


def test_iso_and_parse_iso() -> None:
    assert iso(utc(2024, 2, 29, 23, 59, 59)) == "2024-02-29T23:59:59Z"
    assert parse_iso("2024-02-29T23:59:59Z") == utc(2024, 2, 29, 23, 59, 59)
    assert parse_iso("2024-03-31") == utc(2024, 3, 31)
    assert parse_iso("2024-03-31T02:30:00+02:00") == utc(2024, 3, 31, 0, 30)
    assert parse_iso("2024-03-31T02:30:00") == utc(2024, 3, 31, 2, 30)


def test_precision_checks() -> None:
    assert check_precision("week") == "week"
    with pytest.raises(ValueError, match="year"):
        check_precision("year")
    with pytest.raises(ValueError, match="fortnight"):
        bucket_start(0, "fortnight")


@pytest.mark.parametrize(
    "coarse, fine, nests",
    [
        ("hour", "minute", True),
        ("day", "hour", True),
        ("month", "day", True),
        ("week", "day", True),
        ("month", "week", False),
        ("week", "month", False),
        ("minute", "hour", False),
        ("day", "day", True),
    ],
)
def test_nesting(coarse: str, fine: str, nests: bool) -> None:
    assert is_coarser_or_equal(coarse, fine) is nests


def test_the_store_ladder_holds_the_stored_precisions_in_order() -> None:
    from fwjr.bucket import STORED_PRECISIONS
    from fwjr.config import Settings
    from fwjr.store import sql

    assert [p for p, _ in sql.ladder(Settings())] == list(STORED_PRECISIONS)
    assert [p for p in PRECISIONS if p in STORED_PRECISIONS] == list(STORED_PRECISIONS), "finest first, like PRECISIONS"


def test_next_bucket_follows_each_precision_and_coarsest_orders_them() -> None:
    from fwjr.bucket import coarsest, next_bucket

    monday = 1704067200  # 2024-01-01 00:00 UTC
    assert [next_bucket(monday, p) - monday for p in ("minute", "hour", "day", "week")] == [60, 3600, 86400, 7 * 86400]
    assert next_bucket(monday, "month") == 1706745600  # 2024-02-01
    assert next_bucket(1706745600, "month") == 1709251200  # 2024-03-01, across a leap February
    assert coarsest("hour", "minute", "week") == "week" and coarsest("month", "week") == "month"
    with pytest.raises(ValueError, match="unknown precision 'year'"):
        coarsest("hour", "year")
