"""Service status events (`service.status`) and the outage windows derived from them.

Status comes from other monitoring (a poller of JSON status pages, `fwjr service-status`,
a rehearsal scenario); we never probe services ourselves. An event is validated once, at
the edge, and a bad one is rejected with a reason that names the field and value.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import msgspec

from fwjr.bucket import parse_iso
from fwjr.model import Rejection

STATES: tuple[str, ...] = ("up", "degraded", "down", "maintenance")
# How bad a state is: an outage window reports the worst state it went through. A maintenance
# event announces a planned window (start, end) and enters no outage window itself (the
# service's own states during it do); its rank only orders events of the same second.
SEVERITY: dict[str, int] = {"up": 0, "maintenance": 0, "degraded": 1, "down": 2}
MAINTENANCE = "maintenance"
MAX_FUTURE_SECONDS = 300
MAX_SERVICE_LENGTH = 200


class StatusEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One observation of one service's state at one time (epoch seconds, UTC).

    A `maintenance` event also carries the planned window [start, end), which may lie ahead.
    """

    service: str
    state: str
    ts: int
    message: str = ""
    source: str = ""
    start: int | None = None
    end: int | None = None


@dataclass(slots=True)
class Outage:
    """A period in which a service was not up: from the first non-up event to the next up event.

    `end` is None while the outage is open. `state` is the worst state seen in it.
    """

    service: str
    start: int
    end: int | None
    state: str
    message: str = ""
    source: str = ""

    def duration(self, now: int) -> int:
        """Seconds the outage lasted (so far, when still open)."""
        return (self.end if self.end is not None else max(now, self.start)) - self.start

    def overlaps(self, start: int, end: int) -> bool:
        """Whether the outage covers any instant of [start, end)."""
        return self.start < end and (self.end is None or self.end > start)

    def as_dict(self, now: int) -> dict:
        return {
            "service": self.service,
            "start": self.start,
            "end": self.end,
            "state": self.state,
            "duration": self.duration(now),
            "message": self.message,
            "source": self.source,
        }


def _reject(reason: str, field_name: str, value: object, source: str) -> Rejection:
    return Rejection(reason=reason, field=field_name, value=repr(value)[:200], source=source)


def _event_time(raw: object, source: str) -> int | Rejection:
    if isinstance(raw, bool) or raw is None:
        return _reject("status event time missing or not a time", "ts", raw, source)
    if isinstance(raw, (int, float)):
        return int(raw)
    if isinstance(raw, str):
        try:
            return int(raw) if raw.strip().isdigit() else parse_iso(raw)
        except ValueError:
            return _reject("status event time is not epoch seconds or ISO UTC", "ts", raw, source)
    return _reject("status event time is not epoch seconds or ISO UTC", "ts", raw, source)


def parse_status(doc: object, source: str, now: int | None = None) -> StatusEvent | Rejection:
    """A valid StatusEvent, or the Rejection saying what was wrong with it.

    Rejected: not an object, missing or empty service, a state outside up/degraded/down/
    maintenance, a missing or unreadable time, a time more than MAX_FUTURE_SECONDS ahead of
    `now` (a clock that far ahead would open outages that have not happened), and a
    maintenance event without a readable `start` before its `end`.
    """
    if not isinstance(doc, dict):
        return _reject("status event is not a JSON object", "", doc, source)
    service = doc.get("service")
    if not isinstance(service, str) or not service.strip():
        return _reject("status event has no service", "service", service, source)
    if len(service) > MAX_SERVICE_LENGTH:
        return _reject(f"service name longer than {MAX_SERVICE_LENGTH} characters", "service", service, source)
    state = doc.get("state")
    if not isinstance(state, str) or state.strip().lower() not in STATES:
        return _reject(f"unknown state (expected one of {', '.join(STATES)})", "state", state, source)
    ts = _event_time(doc.get("ts", doc.get("time")), source)
    if isinstance(ts, Rejection):
        return ts
    current = int(time.time()) if now is None else now
    if ts > current + MAX_FUTURE_SECONDS:
        return _reject(f"status event time is more than {MAX_FUTURE_SECONDS} s in the future (now {current})", "ts", ts, source)
    state = state.strip().lower()
    window: dict[str, int] = {}
    if state == MAINTENANCE:
        for name in ("start", "end"):
            moment = _event_time(doc.get(name), source)
            if isinstance(moment, Rejection):
                return _reject(f"maintenance {name} missing or not epoch seconds or ISO UTC", name, doc.get(name), source)
            window[name] = moment
        if window["end"] <= window["start"]:
            return _reject("maintenance end is not after its start", "end", window["end"], source)
    message = doc.get("message")
    origin = doc.get("source")
    return StatusEvent(
        service=service.strip(),
        state=state,
        ts=ts,
        message=message if isinstance(message, str) else "",
        source=origin if isinstance(origin, str) else "",
        **window,
    )


def decode_status(value: bytes | None, source: str, now: int | None = None) -> StatusEvent | Rejection:
    """Parse one `service.status` message value (JSON)."""
    try:
        doc = msgspec.json.decode(value or b"")
    except msgspec.DecodeError as exc:
        return _reject(f"status event is not JSON ({exc})", "", (value or b"")[:80], source)
    return parse_status(doc, source, now)


def encode_status(event: StatusEvent) -> bytes:
    return msgspec.json.encode(event)


@dataclass
class OutageBook:
    """Outage windows per service, built from status events in event-time order.

    Events may arrive out of order; each service's events are kept sorted and its
    windows recomputed, so the windows depend only on the events, not on arrival.
    """

    events: dict[str, list[StatusEvent]] = field(default_factory=dict)

    def add(self, event: StatusEvent) -> list[Outage]:
        """Record an event; returns the service's windows that this event created or changed."""
        history = self.events.setdefault(event.service, [])
        before = {(o.start, o.end, o.state) for o in self.windows(event.service)}
        history.append(event)
        history.sort(key=lambda e: (e.ts, SEVERITY[e.state]))
        return [o for o in self.windows(event.service) if (o.start, o.end, o.state) not in before]

    def windows(self, service: str) -> list[Outage]:
        """The service's outage windows, oldest first."""
        return outage_windows(self.events.get(service, []))

    def all_windows(self) -> list[Outage]:
        return [o for service in sorted(self.events) for o in self.windows(service)]

    def overlapping(self, start: int, end: int) -> list[Outage]:
        """Every outage of any service that covers part of [start, end)."""
        return [o for o in self.all_windows() if o.overlaps(start, end)]


def outage_windows(events: list[StatusEvent]) -> list[Outage]:
    """Windows of one service from its events sorted by time: a non-up event opens one, up closes it.

    Maintenance announcements are skipped: they plan a window (and silence it), they do not report one.
    """
    windows: list[Outage] = []
    current: Outage | None = None
    for event in events:
        if event.state == MAINTENANCE:
            continue
        if event.state == "up":
            if current is not None:
                current.end = event.ts
                windows.append(current)
                current = None
            continue
        if current is None:
            current = Outage(event.service, event.ts, None, event.state, event.message, event.source)
        elif SEVERITY[event.state] > SEVERITY[current.state]:
            current.state = event.state
            current.message = event.message or current.message
    if current is not None:
        windows.append(current)
    return windows
