"""Replay dates and ranges: the forms operators type, half-open ranges, widening to stored buckets."""

from __future__ import annotations

import pytest

from batch.range import parse_when, replay_range
from fwjr.bucket import parse_iso

NOW = parse_iso("2026-11-23T13:45:10Z")
LADDER = [("minute", 2 * 86400), ("hour", 30 * 86400), ("day", 365 * 86400), ("month", None)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", "2026-11-23T00:00:00Z"),
        ("1", "2026-11-22T00:00:00Z"),
        ("-1", "2026-11-24T00:00:00Z"),
        ("2026-11-01", "2026-11-01T00:00:00Z"),
        ("2026-11-01T06:30:00Z", "2026-11-01T06:30:00Z"),
        ("2026-11-01T07:30:00+01:00", "2026-11-01T06:30:00Z"),
    ],
)
def test_dates_take_days_ago_dates_and_timestamps(text: str, expected: str) -> None:
    assert parse_when(text, NOW) == parse_iso(expected)


def test_a_bad_date_names_the_option_and_the_forms() -> None:
    with pytest.raises(ValueError, match=r"--from 'yesterday'.*YYYY-MM-DD"):
        parse_when("yesterday", NOW, "--from")


def test_a_reversed_or_empty_range_is_refused() -> None:
    with pytest.raises(ValueError, match="not before"):
        replay_range("0", "1", NOW, LADDER, "minute")
    with pytest.raises(ValueError, match="not before"):
        replay_range("0", "0", NOW, LADDER, "minute")


def test_recent_ranges_stay_as_asked() -> None:
    span = replay_range("2026-11-22T10:17:00Z", "2026-11-22T11:00:00Z", NOW, LADDER, "minute")
    assert (span.start, span.end) == (parse_iso("2026-11-22T10:17:00Z"), parse_iso("2026-11-22T11:00:00Z"))
    assert "widened" not in span.describe()


def test_old_ranges_widen_to_the_buckets_the_store_has_rolled_up_to() -> None:
    hours = replay_range("2026-11-10T10:17:00Z", "2026-11-10T11:05:00Z", NOW, LADDER, "minute")
    assert (hours.start, hours.end) == (parse_iso("2026-11-10T10:00:00Z"), parse_iso("2026-11-10T12:00:00Z"))
    assert hours.stored_precision == "hour" and "widened" in hours.describe()
    months = replay_range("2024-03-05", "2024-03-06", NOW, LADDER, "minute")
    assert (months.start, months.end) == (parse_iso("2024-03-01"), parse_iso("2024-04-01"))


def test_a_coarser_write_precision_widens_too() -> None:
    span = replay_range("2026-11-22T10:17:00Z", "2026-11-22T11:00:00Z", NOW, LADDER, "day")
    assert (span.start, span.end) == (parse_iso("2026-11-22"), parse_iso("2026-11-23"))
