"""The alert engine's checkpoint: an engine restored from it decides what the one that wrote it would."""

from __future__ import annotations

from fwjr.alerting import checkpoint
from fwjr.alerting.model import Decision, Outcome, RuleConfig
from fwjr.alerting.rule import AlertEngine
from fwjr.alerting.simulate import generated_outcomes
from fwjr.alerting.status import StatusEvent

START = 1_790_000_000 - 1_790_000_000 % 60
SITE = "T1_US_FNAL_Disk"
BURST = {"site": SITE, "start_minute": 130, "minutes": 12, "failure_rate": 0.6, "exit_code": 8021}


def _feed(engine: AlertEngine, outcomes: list[tuple[int, Outcome]], batch: int = 400) -> list[Decision]:
    decisions = []
    for i in range(0, len(outcomes), batch):
        chunk = outcomes[i : i + batch]
        for partition in sorted({p for p, _ in chunk}):
            engine.observe([o for p, o in chunk if p == partition], source=partition)
        decisions += engine.advance()
    return decisions


def _signature(decisions: list[Decision]) -> list[tuple]:
    return [(d.action, d.alert.id, d.alert.fired, d.alert.resolved, d.alert.evidence["suspected_causes"]) for d in decisions]


def _round_trip(engine: AlertEngine) -> AlertEngine:
    saved = checkpoint.Checkpoint(engine=checkpoint.state_of(engine), offsets={"fwjr.jobs": {0: 7}}, resolved=[])
    loaded = checkpoint.decode(checkpoint.encode(saved))
    assert loaded.offsets == {"fwjr.jobs": {0: 7}}
    return checkpoint.engine_from(loaded.engine, engine.config, now=0.0)


def test_an_engine_restored_mid_incident_decides_as_the_uninterrupted_one() -> None:
    outcomes = generated_outcomes(180 * 300, 11, START, 180, {"bursts": [BURST]})
    outage = StatusEvent(service="EOS", state="down", ts=START + 125 * 60, message="namespace down")
    reference = AlertEngine(RuleConfig())
    reference.observe_status(outage)
    expected = _feed(reference, outcomes)
    assert [d.action for d in expected] == ["fire", "resolve"]
    fired_at = next(i for i, (_, o) in enumerate(outcomes) if o.ts >= expected[0].alert.fired + 150)

    first = AlertEngine(RuleConfig())
    first.observe_status(outage)
    before = _feed(first, outcomes[:fired_at])
    assert [d.action for d in before] == ["fire"]  # killed while the alert fires
    restored = _round_trip(first)
    after = _feed(restored, outcomes[fired_at:])
    assert _signature(before + after) == _signature(expected)
    assert restored.baselines.keys() == reference.baselines.keys()
    assert all(restored.baselines[s].entries == reference.baselines[s].entries for s in reference.baselines)


def test_a_restored_engine_still_knows_the_identities_it_counted() -> None:
    engine = AlertEngine(RuleConfig())
    jobs = [Outcome(START + 30, "S", "W", 0, False, f"job-{i}") for i in range(5)]
    engine.observe(jobs)
    restored = _round_trip(engine)
    restored.observe(jobs)
    assert (restored.duplicates, restored.late) == (5, 0)
    assert sum(restored.minutes[START].jobs.values()) == 5


def test_an_unreadable_checkpoint_is_an_error_naming_it() -> None:
    try:
        checkpoint.decode(b"not a checkpoint")
    except ValueError as error:
        assert "checkpoint: unreadable" in str(error)
    else:
        raise AssertionError("garbage decoded as a checkpoint")
