"""Decision snapshots: the unfiltered triage of a named window, computed once, served stale-while-revalidate.

The triage of a busy day takes seconds (docs/performance.md), most of it deciding in Python, so
a page cannot compute it per view. A snapshot is the triage of one named window (a preset such
as `24h`, resolved at the time it is computed) with that time, `as_of`:

- the first request for a window computes it, synchronously (concurrent ones wait for it);
- a request within the refresh interval (setting triage_refresh_seconds) is served from it;
- an older one is still served from it, and starts one background refresh of that window
  (never two at once); the next requests get the new snapshot once it is there;
- a refresh that fails is logged and counted (fwjr_triage_refresh_failures_total, in the
  process's prometheus registry), the old snapshot stays, and the next try waits one interval;
- a snapshot older than STALE_LIMIT intervals (the board was idle, or refreshes keep failing)
  is not served: the request computes a new one as a first request does, or fails visibly.

The clock and the way a refresh is started are injected (a clock function, a spawn function),
so that tests drive the time and the background work.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter

from fwjr.triage.decide import Decision

log = logging.getLogger("fwjr.triage")

STALE_LIMIT = 10  # refresh intervals after which a snapshot is recomputed before it is served
REFRESH_FAILURES = Counter(
    "fwjr_triage_refresh_failures", "Background refreshes of a triage snapshot that failed (the old snapshot is kept)", ["window"]
)

Compute = Callable[[int, int, int], list[Decision]]  # (start, end, now) -> the triage of [start, end)
Resolve = Callable[[str, int], tuple[int, int]]  # (window name, now) -> [start, end)
Spawn = Callable[[str, Callable[[], None]], None]  # (window name, work) -> runs the work in the background


@dataclass(frozen=True, eq=False)
class Snapshot:
    """The triage of one window as computed at `as_of` (epoch seconds); equal only to itself
    (readers key what they derive from it by the snapshot)."""

    window: str
    start: int
    end: int
    as_of: int
    decisions: tuple[Decision, ...]
    seconds: float  # how long computing it took
    by_workflow: Mapping[str, Decision]
    answers: Mapping[str, dict[str, Any]]  # workflow -> its decision's as_dict, made once; read-only

    def decision(self, workflow: str) -> Decision | None:
        """The workflow's decision, None when it had no failed job in the window."""
        return self.by_workflow.get(workflow)


def in_thread(window: str, work: Callable[[], None]) -> None:
    """Run `work` in a daemon thread named after the window (a refresh must not hold up the exit)."""
    threading.Thread(target=work, name=f"triage-refresh-{window}", daemon=True).start()


class Snapshots:
    """One snapshot per window name, kept and refreshed as the module docstring says."""

    def __init__(self, compute: Compute, resolve: Resolve, refresh_seconds: float,
                 clock: Callable[[], float] = time.time, spawn: Spawn = in_thread) -> None:
        self.refresh_seconds = refresh_seconds
        self._compute = compute
        self._resolve = resolve
        self._clock = clock
        self._spawn = spawn
        self._lock = threading.Lock()  # guards the dicts below, never held while computing
        self._current: dict[str, Snapshot] = {}
        self._refreshing: set[str] = set()
        self._retry_at: dict[str, float] = {}
        self._computing: dict[str, threading.Lock] = {}  # held while a window is computed, sync or in the background

    def get(self, window: str) -> Snapshot:
        """The window's snapshot, as fresh as the rules allow; raises what computing it raised
        when there is none to serve (ValueError for an unknown window name)."""
        now = self._clock()
        self._resolve(window, int(now))  # an unknown name is refused before it is kept anywhere
        with self._lock:
            current = self._current.get(window)
            servable = current is not None and self._servable(current, now)
            start_refresh = servable and self._due(window, current, now)
            if start_refresh:
                self._refreshing.add(window)
            computing = self._computing.setdefault(window, threading.Lock())
        if servable:
            if start_refresh:
                self._spawn(window, lambda: self._refresh(window))
            return current  # type: ignore[return-value]
        with computing:
            with self._lock:
                current = self._current.get(window)
            if current is not None and self._servable(current, self._clock()):
                return current  # another request computed it meanwhile
            return self._keep(self._computed(window))

    def _servable(self, snapshot: Snapshot, now: float) -> bool:
        return now - snapshot.as_of < self.refresh_seconds * STALE_LIMIT

    def _due(self, window: str, snapshot: Snapshot, now: float) -> bool:
        """Whether a request at `now` starts a refresh (called under the lock)."""
        return (now - snapshot.as_of >= self.refresh_seconds and window not in self._refreshing
                and now >= self._retry_at.get(window, 0.0))

    def _refresh(self, window: str) -> None:
        try:
            with self._computing[window]:
                self._keep(self._computed(window))
        except Exception as error:
            log.error("triage: refreshing the %s snapshot failed, its older one stays: %s", window, error, exc_info=error)
            REFRESH_FAILURES.labels(window=window).inc()
            with self._lock:
                self._retry_at[window] = self._clock() + self.refresh_seconds
        finally:
            with self._lock:
                self._refreshing.discard(window)

    def _computed(self, window: str) -> Snapshot:
        as_of = int(self._clock())
        start, end = self._resolve(window, as_of)
        started = time.perf_counter()
        decisions = tuple(self._compute(start, end, as_of))
        # Each view answers its decisions as dicts: made here once, a view allocates none of them
        # (1,600 decisions with their evidence are ~100,000 objects, enough to set off a full
        # garbage collection of the board's heap every few views, 0.4 s each).
        answers = {d.workflow: d.as_dict() for d in decisions}
        return Snapshot(window, start, end, as_of, decisions, time.perf_counter() - started, {d.workflow: d for d in decisions}, answers)

    def _keep(self, snapshot: Snapshot) -> Snapshot:
        """Keep `snapshot` unless a newer one of its window is already kept; answers the kept one."""
        with self._lock:
            current = self._current.get(snapshot.window)
            if current is None or current.as_of <= snapshot.as_of:
                self._current[snapshot.window] = current = snapshot
            return current
