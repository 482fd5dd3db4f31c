"""The alert rule on event time: quiet on normal traffic, one incident per burst, deterministic."""

from __future__ import annotations

import random

import pytest

from fwjr.alerting.rule import AlertEngine, Decision, Outcome, RuleConfig
from fwjr.alerting.simulate import generated_outcomes, synthetic_outcomes
from fwjr.alerting.status import StatusEvent

START = 1_790_000_000 - 1_790_000_000 % 60
SITE = "T2_XX_Site00"


def _run(outcomes, config: RuleConfig | None = None, batch: int = 500, status: list[StatusEvent] = ()) -> tuple[AlertEngine, list[Decision]]:
    engine = AlertEngine(config)
    for event in status:
        engine.observe_status(event)
    decisions: list[Decision] = []
    items = list(outcomes)
    for i in range(0, len(items), batch):
        engine.observe(items[i : i + batch])
        decisions += engine.advance()
    return engine, decisions


def _signature(decisions: list[Decision]) -> list[tuple]:
    return [(d.action, d.alert.scope, d.alert.value, d.alert.started, d.alert.fired, d.alert.resolved) for d in decisions]


def test_hours_of_normal_generated_traffic_fire_no_alert() -> None:
    engine = AlertEngine()
    decisions = []
    outcomes = generated_outcomes(9000, seed=21, start_ts=START, minutes=180)
    for i in range(0, len(outcomes), 400):
        for partition in range(8):
            engine.observe([o for p, o in outcomes[i : i + 400] if p == partition], source=partition)
        decisions += engine.advance()
    assert engine.judged > 170
    assert decisions == []


def test_hours_of_steady_synthetic_traffic_fire_no_alert() -> None:
    engine, decisions = _run(synthetic_outcomes(360, 150, seed=3, start_ts=START))
    assert engine.judged > 350
    assert decisions == []


def test_a_site_burst_is_one_alert_for_the_site_with_the_moved_scopes_as_members() -> None:
    burst = {"site": SITE, "start_minute": 60, "minutes": 10, "failure_rate": 0.6, "exit_code": 8021}
    status = [
        StatusEvent(service="EOS", state="down", ts=START + 58 * 60),
        StatusEvent(service="EOS", state="up", ts=START + 75 * 60),
        StatusEvent(service="FTS", state="degraded", ts=START + 10 * 60),
        StatusEvent(service="FTS", state="up", ts=START + 15 * 60),
    ]
    _, decisions = _run(synthetic_outcomes(100, 150, seed=4, start_ts=START, bursts=[burst]), status=status)
    assert [(d.action, d.alert.scope, d.alert.value) for d in decisions] == [("fire", "site", SITE), ("resolve", "site", SITE)]
    fired, resolved = decisions[0].alert, decisions[1].alert
    burst_start = START + 60 * 60
    assert burst_start <= fired.started <= burst_start + 60
    assert fired.fired - fired.started == RuleConfig().pending_minutes * 60
    assert resolved.resolved > burst_start + 10 * 60
    assert "all jobs" in resolved.members and "exit_code=8021" in resolved.members
    assert [c["service"] for c in fired.evidence["suspected_causes"]] == ["EOS"]
    top = fired.evidence["top_exit_codes"][0]
    assert top["exit_code"] == 8021 and top["description"] != "unknown exit code"
    assert fired.evidence["rate"] > 3 * fired.evidence["baseline"]


def test_a_workflow_bug_across_sites_is_keyed_by_the_workflow() -> None:
    burst = {"workflow": "wf_007", "start_minute": 60, "minutes": 12, "failure_rate": 0.9, "exit_code": 50664}
    _, decisions = _run(synthetic_outcomes(100, 300, seed=5, start_ts=START, bursts=[burst]))
    fires = [d.alert for d in decisions if d.action == "fire"]
    assert [(a.scope, a.value) for a in fires] == [("workflow", "wf_007")]


def test_decisions_do_not_depend_on_batching_or_partition_interleaving() -> None:
    """Same event times, same per-partition order: same decisions, however the batches fall."""
    burst = {"site": SITE, "start_minute": 70, "minutes": 8, "failure_rate": 0.5, "exit_code": 8028}
    outcomes = list(synthetic_outcomes(110, 150, seed=6, start_ts=START, bursts=[burst]))
    reference = _signature(_run(outcomes, batch=1000)[1])
    assert reference and reference[0][0] == "fire"
    assert _signature(_run(outcomes, batch=37)[1]) == reference
    rng = random.Random(1)
    partitions = [[o for i, o in enumerate(outcomes) if i % 4 == p] for p in range(4)]
    engine, decisions = AlertEngine(), []
    cursors = [0, 0, 0, 0]
    while any(c < len(part) for c, part in zip(cursors, partitions)):
        for p in rng.sample(range(4), 4):  # one consumer batch: some messages of every partition
            take = rng.randrange(40, 160)
            engine.observe(partitions[p][cursors[p] : cursors[p] + take], source=p)
            cursors[p] += take
        decisions += engine.advance()
    assert engine.late == 0
    assert _signature(decisions) == reference


def test_a_source_silent_for_the_idle_time_stops_holding_the_watermark_and_its_old_jobs_are_late() -> None:
    engine = AlertEngine(RuleConfig(idle_seconds=60, allowed_lateness=60))
    engine.expect(range(3), now=0.0)
    engine.observe([Outcome(START + m * 60, "S", "W", 0, False) for m in range(30)], source=0, now=1.0)
    engine.observe([Outcome(START, "S", "W", 0, False)], source=1, now=1.0)
    assert engine.watermark(now=30.0) == 0 - 60, "source 2 has not delivered yet: it holds the watermark back"
    assert engine.watermark(now=60.5) == START - 60, "source 2 is idle; source 1 still holds it back"
    engine.observe([Outcome(START + 29 * 60, "S", "W", 0, False)], source=0, now=61.0)
    assert engine.watermark(now=62.0) == START + 29 * 60 - 60, "sources 1 and 2 are idle"
    engine.advance(now=62.0)
    engine.observe([Outcome(START + 60, "S", "W", 0, False)], source=1, now=63.0)
    assert engine.late == 1


def test_a_job_delivered_again_counts_once() -> None:
    engine = AlertEngine(RuleConfig())
    jobs = [Outcome(START + 5, "S", "W", 8021, True, f"id-{i}") for i in range(4)]
    engine.observe(jobs, source=0)
    engine.observe(jobs[:2], source=1)  # a worker's restart publishes part of a batch again
    assert (engine.duplicates, engine.late) == (2, 0)
    assert sum(engine.minutes[START].fails.values()) == 4
    engine.observe([Outcome(START + 40 * 60, "S", "W", 0, False, "later")], source=0)
    engine.observe([Outcome(START + 40 * 60, "S", "W", 0, False, "later-1")], source=1)
    engine.advance()
    assert "id-0" not in engine.seen, "identities older than the horizon are forgotten"


def test_late_jobs_are_counted_and_left_out_of_judged_minutes() -> None:
    engine = AlertEngine(RuleConfig(allowed_lateness=60))
    engine.observe([Outcome(START + m * 60, "S", "W", 0, False) for m in range(10)])
    engine.advance()
    judged_before = engine.judged
    engine.observe([Outcome(START + 60, "S", "W", 8021, True)] * 5)
    assert engine.late == 5
    assert engine.advance() == []
    assert engine.judged == judged_before


@pytest.mark.parametrize("fraction", [0.2, 0.5])
def test_pending_period_holds_a_short_blip_back(fraction: float) -> None:
    blip = {"site": SITE, "start_minute": 60, "minutes": 1, "failure_rate": fraction, "exit_code": 8021}
    config = RuleConfig(window_minutes=1)
    _, decisions = _run(synthetic_outcomes(80, 150, seed=8, start_ts=START, bursts=[blip]), config=config)
    assert decisions == []


def test_an_alert_taken_over_after_a_restart_resolves_when_traffic_is_calm() -> None:
    burst = {"site": SITE, "start_minute": 60, "minutes": 10, "failure_rate": 0.6, "exit_code": 8021}
    _, decisions = _run(synthetic_outcomes(70, 150, seed=4, start_ts=START, bursts=[burst]))
    fired = decisions[0].alert
    assert (decisions[0].action, fired.value) == ("fire", SITE)
    restarted = AlertEngine()
    restarted.restore(fired)
    calm = [o for o in synthetic_outcomes(100, 150, seed=9, start_ts=START) if o.ts >= START + 75 * 60]
    restarted.observe(calm)
    resolved = restarted.advance()
    assert [(d.action, d.alert.id) for d in resolved] == [("resolve", fired.id)]
    assert resolved[0].alert.members == fired.members


def test_a_long_gap_in_the_feed_is_skipped_not_judged_minute_by_minute() -> None:
    engine = AlertEngine()
    engine.observe([Outcome(START + m * 60, "S", "W", 0, False) for m in range(10)])
    engine.advance()
    later = START + 30 * 86400
    engine.observe([Outcome(later + m * 60, "S", "W", 0, False) for m in range(10)])
    engine.advance()
    assert engine.judged < 10 + (RuleConfig().window_minutes + RuleConfig().baseline_minutes) + 10
