"""Decision snapshots over a real embedded store: served within the interval, refreshed after it
(the old one served meanwhile, one refresh at a time), kept when a refresh fails; and filters that
select workflows with their whole decisions. The clock and the background start are driven by the
tests (a clock function, a spawn function that holds the work until the test runs it)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from dashboard.timeframe import preset_range
from fwjr.config import Settings
from fwjr.store.connection import Store
from fwjr.triage.decide import Decision
from fwjr.triage.report import triage
from fwjr.triage.select import select, selected, triage_selected
from fwjr.triage.snapshot import STALE_LIMIT, Snapshots
from tests.fixtures import store_helpers
from tests.fixtures.store import agg_row, empty, store  # noqa: F401 (fixtures)

REFRESH = 60.0
NOW = int(time.time()) // 60 * 60
BUCKET = NOW - 1800  # inside every window from 1 h up


class Clock:
    """The time the snapshots see, moved by the test."""

    def __init__(self) -> None:
        self.now = float(NOW)

    def __call__(self) -> float:
        return self.now


class Held:
    """A spawn function that keeps each refresh until the test runs it."""

    def __init__(self) -> None:
        self.work: list[tuple[str, Callable[[], None]]] = []

    def __call__(self, window: str, work: Callable[[], None]) -> None:
        self.work.append((window, work))

    def run(self) -> None:
        pending, self.work = self.work, []
        for _, work in pending:
            work()


class Triage:
    """The real triage over the store, counting its calls; `settings` may be swapped for a broken one."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store, self.settings, self.calls = store, settings, 0

    def __call__(self, start: int, end: int, now: int) -> list[Decision]:
        self.calls += 1
        return triage(self.store, start, end, settings=self.settings, now=now)


def _fail(store: Store, workflow: str, site: str, code: int, failed: int, jobs: int = 100, campaign: str = "Camp-A") -> None:
    row = agg_row(BUCKET, 3, workflow=workflow, task=f"/{workflow}/Task", site=site, exit_code=code, campaign=campaign)
    row.update(jobs=jobs, failed=failed)
    store_helpers.insert_aggregates(store, [row])
    if failed:
        store_helpers.insert_errors(store, [{"bucket": BUCKET, "workflow": workflow, "task": f"/{workflow}/Task", "step": "cmsRun1", "site": site,
                                     "exit_code": code, "retry_count": 0, "signature": f"sig{code}", "count": failed}])


def _seed(store: Store) -> None:
    for site in ("T1_A", "T2_B", "T2_C"):
        _fail(store, "wf-memory", site, 50660, 40)
    _fail(store, "wf-stageout", "T2_C", 60311, 30, campaign="Camp-B")
    _fail(store, "wf-stageout", "T1_A", 0, 0)
    _fail(store, "wf-calm", "T2_B", 0, 0)


@pytest.fixture
def seeded(empty: Store, tmp_path: Path) -> tuple[Store, Settings]:  # noqa: F811 (fixture)
    _seed(empty)
    return empty, Settings(home=tmp_path)


def _snapshots(compute: Triage, clock: Clock, spawn: Callable[[str, Callable[[], None]], None]) -> Snapshots:
    return Snapshots(compute, preset_range, REFRESH, clock=clock, spawn=spawn)


def _dicts(decisions) -> list[dict]:
    return [d.as_dict() for d in decisions]


def test_within_the_interval_a_window_is_served_from_its_snapshot(seeded: tuple[Store, Settings]) -> None:
    store, settings = seeded
    compute, clock, held = Triage(store, settings), Clock(), Held()
    snapshots = _snapshots(compute, clock, held)
    first = snapshots.get("24h")
    assert compute.calls == 1, "the first request computes the window"
    assert (first.start, first.end, first.as_of) == (NOW - 86400, NOW, NOW)
    assert _dicts(first.decisions) == _dicts(triage(store, NOW - 86400, NOW, settings=settings, now=NOW)), "the same decisions as a direct triage"
    assert [d.workflow for d in first.decisions] == ["wf-memory", "wf-stageout"]
    clock.now += REFRESH - 1
    assert snapshots.get("24h") is first and compute.calls == 1 and held.work == []
    assert snapshots.get("1h") is not first and compute.calls == 2, "each window has its own snapshot"


def test_an_older_snapshot_is_served_while_one_refresh_runs(seeded: tuple[Store, Settings]) -> None:
    store, settings = seeded
    compute, clock, held = Triage(store, settings), Clock(), Held()
    snapshots = _snapshots(compute, clock, held)
    old = snapshots.get("24h")
    _fail(store, "wf-new", "T2_B", 8001, 25)
    clock.now += REFRESH
    assert snapshots.get("24h") is old, "stale is served at once"
    assert snapshots.get("24h") is old and len(held.work) == 1, "one refresh, however many requests"
    assert compute.calls == 1, "nothing computed before the refresh runs"
    held.run()
    new = snapshots.get("24h")
    assert new.as_of == NOW + REFRESH and "wf-new" in new.by_workflow and "wf-new" not in old.by_workflow
    assert compute.calls == 2 and held.work == []


def test_a_failed_refresh_keeps_the_old_snapshot_counts_it_and_retries_an_interval_later(seeded: tuple[Store, Settings], tmp_path: Path) -> None:
    store, settings = seeded
    compute, clock, held = Triage(store, settings), Clock(), Held()
    snapshots = _snapshots(compute, clock, held)
    old = snapshots.get("24h")
    failures = REGISTRY.get_sample_value("fwjr_triage_refresh_failures_total", {"window": "24h"}) or 0.0
    compute.settings = Settings(home=tmp_path, triage_rules_file=tmp_path / "missing.yaml")
    clock.now += REFRESH
    snapshots.get("24h")
    held.run()
    assert REGISTRY.get_sample_value("fwjr_triage_refresh_failures_total", {"window": "24h"}) == failures + 1
    assert snapshots.get("24h") is old and held.work == [], "the old snapshot stays; no retry within the interval"
    compute.settings = settings
    clock.now += REFRESH
    assert snapshots.get("24h") is old and len(held.work) == 1, "retried an interval after the failure"
    held.run()
    assert snapshots.get("24h").as_of == clock.now


def test_a_snapshot_older_than_the_stale_limit_is_recomputed_before_it_is_served(seeded: tuple[Store, Settings], tmp_path: Path) -> None:
    store, settings = seeded
    compute, clock, held = Triage(store, settings), Clock(), Held()
    snapshots = _snapshots(compute, clock, held)
    old = snapshots.get("24h")
    clock.now += REFRESH * STALE_LIMIT
    new = snapshots.get("24h")
    assert new is not old and new.as_of == clock.now and held.work == [] and compute.calls == 2
    compute.settings = Settings(home=tmp_path, triage_rules_file=tmp_path / "missing.yaml")
    clock.now += REFRESH * STALE_LIMIT
    with pytest.raises(ValueError, match="does not exist"):
        snapshots.get("24h")
    with pytest.raises(ValueError, match="unknown timeframe"):
        snapshots.get("fortnight")


class Gated(Triage):
    """The real triage, held at a gate after its first call: a refresh in progress."""

    def __init__(self, store: Store, settings: Settings) -> None:
        super().__init__(store, settings)
        self.gate, self.waiting = threading.Event(), threading.Event()

    def __call__(self, start: int, end: int, now: int) -> list[Decision]:
        if self.calls:
            self.waiting.set()
            self.gate.wait()
        return super().__call__(start, end, now)


def _together(count: int, work: Callable[[], object]) -> list[object]:
    found: list[object] = []
    threads = [threading.Thread(target=lambda: found.append(work())) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return found


def test_concurrent_requests_share_one_first_computation_and_one_background_refresh(seeded: tuple[Store, Settings]) -> None:
    store, settings = seeded
    compute, clock = Gated(store, settings), Clock()
    snapshots = Snapshots(compute, preset_range, REFRESH, clock=clock)
    first = _together(4, lambda: snapshots.get("24h"))
    assert compute.calls == 1 and all(s is first[0] for s in first)
    clock.now += REFRESH
    stale = _together(8, lambda: snapshots.get("24h"))
    assert all(s is first[0] for s in stale), "every request served the stale snapshot at once"
    assert compute.waiting.wait(60), "the refresh runs in the background"
    refreshing = [t for t in threading.enumerate() if t.name == "triage-refresh-24h"]
    assert len(refreshing) == 1
    compute.gate.set()
    refreshing[0].join()
    assert compute.calls == 2 and snapshots.get("24h").as_of == clock.now


def test_filters_select_workflows_each_with_its_whole_decision(seeded: tuple[Store, Settings]) -> None:
    store, settings = seeded
    start, end = NOW - 86400, NOW
    whole = triage(store, start, end, settings=settings, now=NOW)
    by_name = {d.workflow: d.as_dict() for d in whole}

    def names(filters: dict) -> list[str]:
        chosen = select(store, start, end, whole, filters)
        assert all(d.as_dict() == by_name[d.workflow] for d in chosen), "a selected workflow keeps its whole decision"
        return [d.workflow for d in chosen]

    assert names({"site": "T2_C"}) == ["wf-memory", "wf-stageout"]
    assert names({"site": "T1_A"}) == ["wf-memory"], "wf-stageout runs at T1_A without failing there"
    assert names({"site": {"regex": "^T2_"}}) == ["wf-memory", "wf-stageout"]
    assert names({"exit_code": 60311}) == ["wf-stageout"]
    assert names({"exit_code": {"regex": "^506"}, "site": "T2_B"}) == ["wf-memory"]
    assert names({"exit_code": 60311, "site": "T2_B"}) == [], "the code and the site together"
    assert names({"workflow": {"regex": "stage"}}) == ["wf-stageout"]
    assert names({"task": "/wf-memory/Task"}) == ["wf-memory"]
    assert names({"campaign": "Camp-B"}) == ["wf-stageout"], "a key the decisions do not carry asks the store"
    assert names({"campaign": "Camp-B", "site": "T1_A"}) == [], "its failed jobs at T1_A are none"
    narrowed = triage(store, start, end, {"site": "T2_C"}, settings=settings, now=NOW)
    assert {d.workflow: d.failed for d in narrowed}["wf-memory"] == 40, "triage() itself narrows the evidence"
    assert by_name["wf-memory"]["failed"] == 120
    with pytest.raises(ValueError, match="not a valid re2 pattern"):
        selected(whole, {"site": {"regex": "("}})


def test_a_range_computed_for_the_request_selects_as_the_snapshot_does(seeded: tuple[Store, Settings]) -> None:
    store, settings = seeded
    start, end = NOW - 86400, NOW
    snapshot = _snapshots(Triage(store, settings), Clock(), Held()).get("24h")
    for filters in ({}, {"site": "T2_C"}, {"workflow": "wf-memory"}, {"workflow": {"regex": "^wf-"}, "exit_code": 50660}, {"campaign": "Camp-A"}):
        direct = triage_selected(store, start, end, filters, settings=settings, now=NOW)
        served = select(store, snapshot.start, snapshot.end, snapshot.decisions, filters)
        assert [d.workflow for d in direct] == [d.workflow for d in served], filters
        assert [d.verdict for d in direct] == [d.verdict for d in served] and [d.reason for d in direct] == [d.reason for d in served], filters
