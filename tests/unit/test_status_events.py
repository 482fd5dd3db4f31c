"""Service status events: validation with reasons, outage windows, scenario outages."""

from __future__ import annotations

import pytest

from fwjr.alerting.status import OutageBook, StatusEvent, decode_status, outage_windows, parse_status
from fwjr.kafka.status import scenario_status_docs
from fwjr.model import Rejection

NOW = 1_790_000_000


@pytest.mark.parametrize(
    ("doc", "reason", "field"),
    [
        ({"service": "EOS", "state": "sideways", "ts": NOW}, "unknown state", "state"),
        ({"service": "EOS", "state": None, "ts": NOW}, "unknown state", "state"),
        ({"state": "down", "ts": NOW}, "no service", "service"),
        ({"service": "  ", "state": "down", "ts": NOW}, "no service", "service"),
        ({"service": "EOS", "state": "down", "ts": NOW + 86400}, "in the future", "ts"),
        ({"service": "EOS", "state": "down"}, "time missing", "ts"),
        ({"service": "EOS", "state": "down", "ts": "yesterday"}, "not epoch seconds or ISO", "ts"),
        (["EOS", "down"], "not a JSON object", ""),
    ],
)
def test_bad_status_events_are_rejected_with_the_reason_field_and_value(doc: object, reason: str, field: str) -> None:
    rejected = parse_status(doc, "test", now=NOW)
    assert isinstance(rejected, Rejection)
    assert reason in rejected.reason
    assert rejected.field == field
    assert "test" in rejected.message()


def test_good_status_events_are_normalised() -> None:
    event = parse_status({"service": " EOS ", "state": "DOWN", "ts": "2026-09-21T10:00:00Z", "message": "disk"}, "t", now=NOW)
    assert event == StatusEvent(service="EOS", state="down", ts=1789984800, message="disk", source="")
    assert isinstance(decode_status(b"{oops", "t", now=NOW), Rejection)


def _events(*items: tuple[str, int]) -> list[StatusEvent]:
    return [StatusEvent(service="EOS", state=state, ts=ts) for state, ts in items]


def test_outage_windows_run_from_the_first_non_up_event_to_the_next_up_with_the_worst_state() -> None:
    windows = outage_windows(_events(("up", 0), ("degraded", 100), ("down", 200), ("degraded", 250), ("up", 400), ("down", 900)))
    assert [(w.start, w.end, w.state) for w in windows] == [(100, 400, "down"), (900, None, "down")]
    assert windows[0].duration(now=5000) == 300
    assert windows[1].duration(now=1000) == 100


def test_outage_windows_do_not_depend_on_arrival_order() -> None:
    events = _events(("down", 100), ("up", 300), ("degraded", 500), ("up", 800))
    in_order, shuffled = OutageBook(), OutageBook()
    for event in events:
        in_order.add(event)
    for event in reversed(events):
        shuffled.add(event)
    assert in_order.windows("EOS") == shuffled.windows("EOS")
    assert [o.service for o in in_order.overlapping(250, 260)] == ["EOS"]
    assert in_order.overlapping(300, 500) == []


def test_scenario_outages_become_a_down_and_an_up_event_each() -> None:
    docs = scenario_status_docs({"outages": [{"service": "EOS", "start_minute": 10, "minutes": 5, "state": "degraded"}]}, NOW)
    assert [(d["service"], d["state"], d["ts"]) for d in docs] == [("EOS", "degraded", NOW + 600), ("EOS", "up", NOW + 900)]
    with pytest.raises(ValueError, match=r"outages\[0\]: missing minutes"):
        scenario_status_docs({"outages": [{"service": "EOS", "start_minute": 1}]}, NOW)
