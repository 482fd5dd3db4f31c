"""The alert engine's whole state as bytes, so an alerter that stops resumes where it stopped.

`state_of` and `engine_from` are exact inverses for everything that decides: the minutes not
yet judged, the judged minutes the window and baselines still use, every scope's baseline,
the open incidents with their alerts, the sources' newest event times, the identities
within the dedupe horizon and the status events. An engine restored from a snapshot makes,
on the same further input, the same decisions as the one that wrote it (tested), so a
restart neither re-learns nor fires or resolves anything a second time.

Not kept: when each source last delivered (a wall-clock fact of the process that stopped;
the restored engine gives every source a fresh `idle_seconds` from its own start), and
status events older than `STATUS_DAYS` except each service's last one before that (it may
hold an outage open).
"""

from __future__ import annotations

import zlib
from collections import Counter

import msgspec

from fwjr.alerting.baseline import Baseline
from fwjr.alerting.model import Alert, RuleConfig
from fwjr.alerting.rule import AlertEngine, _Incident, _Minute
from fwjr.alerting.status import StatusEvent

FORMAT = 1
STATUS_DAYS = 7


class _MinuteState(msgspec.Struct, array_like=True):
    jobs: list[tuple[str, str, int]]
    fails: list[tuple[str, str, int, int]]


class _IncidentState(msgspec.Struct, array_like=True):
    kind: str
    value: str
    started: int
    streak: int
    quiet: int
    alert: Alert | None
    members: list[tuple[str, str]]


class EngineState(msgspec.Struct, kw_only=True):
    """The engine's state in plain values (see the module docstring for what is left out)."""

    format: int = FORMAT
    newest: int
    next_minute: int | None
    late: int
    judged: int
    duplicates: int
    source_newest: dict[int, int]
    minutes: dict[int, _MinuteState]
    raw_window: dict[int, _MinuteState]
    closed: dict[int, list[tuple[str, str, int, int]]]
    baselines: list[tuple[str, str, list[tuple[int, int, int]]]]
    incidents: list[_IncidentState]
    seen_minutes: dict[int, list[str]]
    status: list[StatusEvent]


class Checkpoint(msgspec.Struct, kw_only=True):
    """What the alerter writes atomically with its decisions: the engine, the next offset to read
    per input topic and partition, and the alerts resolved lately (re-posted to Alertmanager
    after a restart, in case the process stopped before it heard them)."""

    engine: EngineState
    offsets: dict[str, dict[int, int]]
    resolved: list[Alert]


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Checkpoint)


def _minute_state(counts: _Minute) -> _MinuteState:
    return _MinuteState(
        jobs=[(site, workflow, n) for (site, workflow), n in counts.jobs.items()],
        fails=[(site, workflow, code, k) for (site, workflow, code), k in counts.fails.items()],
    )


def _minute(state: _MinuteState) -> _Minute:
    return _Minute(
        jobs=Counter({(site, workflow): n for site, workflow, n in state.jobs}),
        fails=Counter({(site, workflow, code): k for site, workflow, code, k in state.fails}),
    )


def _recent_status(engine: AlertEngine) -> list[StatusEvent]:
    """Each service's events of the last STATUS_DAYS of event time, and its last one before them."""
    cutoff = max(engine.newest, 0) - STATUS_DAYS * 86400
    kept: list[StatusEvent] = []
    for service in sorted(engine.outages.events):
        events = engine.outages.events[service]
        older = [e for e in events if e.ts < cutoff]
        kept += older[-1:] + [e for e in events if e.ts >= cutoff]
    return kept


def state_of(engine: AlertEngine) -> EngineState:
    """The engine's state as plain values."""
    return EngineState(
        newest=engine.newest,
        next_minute=engine.next_minute,
        late=engine.late,
        judged=engine.judged,
        duplicates=engine.duplicates,
        source_newest=dict(engine.source_newest),
        minutes={m: _minute_state(c) for m, c in engine.minutes.items()},
        raw_window={m: _minute_state(c) for m, c in engine._raw_window.items()},
        closed={m: [(kind, value, jobs, fails) for (kind, value), (jobs, fails) in scopes.items()]
                for m, scopes in engine.closed.items()},
        baselines=[(kind, value, list(base.entries)) for (kind, value), base in engine.baselines.items()],
        incidents=[
            _IncidentState(root[0], root[1], i.started, i.streak, i.quiet, i.alert, sorted(i.members))
            for root, i in engine.incidents.items()
        ],
        seen_minutes={m: list(ids) for m, ids in engine.seen_minutes.items()},
        status=_recent_status(engine),
    )


def engine_from(state: EngineState, config: RuleConfig, now: float) -> AlertEngine:
    """An engine that carries on from `state`; its sources count as heard from at `now`."""
    if state.format != FORMAT:
        raise ValueError(f"alert engine checkpoint: format {state.format}, this alerter reads format {FORMAT}")
    engine = AlertEngine(config)
    engine.newest = state.newest
    engine.next_minute = state.next_minute
    engine.late, engine.judged, engine.duplicates = state.late, state.judged, state.duplicates
    engine.source_newest = dict(state.source_newest)
    engine.source_heard = {source: now for source in state.source_newest}
    engine.minutes = {m: _minute(c) for m, c in state.minutes.items()}
    engine._raw_window = {m: _minute(c) for m, c in state.raw_window.items()}
    engine.closed = {m: {(kind, value): [jobs, fails] for kind, value, jobs, fails in scopes}
                     for m, scopes in state.closed.items()}
    for kind, value, entries in state.baselines:
        base = engine.baselines[(kind, value)] = Baseline()
        for minute, jobs, failures in entries:
            base.add(minute, jobs, failures)
    for item in state.incidents:
        root = (item.kind, item.value)
        engine.incidents[root] = _Incident(root, item.started, item.streak, item.quiet, item.alert,
                                           {tuple(m) for m in item.members})
    engine.seen_minutes = {m: list(ids) for m, ids in state.seen_minutes.items()}
    engine.seen = {identity for ids in engine.seen_minutes.values() for identity in ids}
    for event in state.status:
        engine.observe_status(event)
    return engine


def encode(checkpoint: Checkpoint) -> bytes:
    """A checkpoint as compressed bytes (one is written every few seconds)."""
    return zlib.compress(_encoder.encode(checkpoint), 1)


def decode(data: bytes) -> Checkpoint:
    """The checkpoint `encode` wrote; a clear error for anything else."""
    try:
        return _decoder.decode(zlib.decompress(data))
    except (zlib.error, msgspec.DecodeError) as exc:
        raise ValueError(f"alert engine checkpoint: unreadable ({exc})") from None
