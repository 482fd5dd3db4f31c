"""Workflow-scoped scenario incidents: `workflow_rank` N fails the N-th busiest workflow only,
at one site or at all, with a fixed message when one is given."""

from __future__ import annotations

from collections import Counter

import pytest

from fwjr.model import Job
from fwjr.reader import to_job
from fwjr.synth.feed import burst_workflows, generate_documents

CLEAN = {"drift_share": 0, "malformed_share": 0, "duplicate_share": 0, "shapes": {"envelope": 0}}
MESSAGE = "An exception of category 'ProductNotFound' occurred: Found zero products matching all criteria"


def _jobs(scenario: dict, count: int = 6000) -> list[Job]:
    docs = generate_documents(count, 7, minutes=30, scenario=scenario, **CLEAN)
    return [job for i, doc in enumerate(docs) if isinstance(job := to_job(f"t#{i}", doc), Job)]


def test_workflow_rank_names_the_busiest_workflows_in_order():
    scenario = {"bursts": [{"workflow_rank": rank, "start_minute": 0, "minutes": 30, "failure_rate": 0.0, "exit_code": 1} for rank in (1, 2, 3)]}
    names = burst_workflows(scenario, 7)
    seen = Counter(job.workflow for job in _jobs({}))
    assert len(set(names)) == 3
    busiest = [name for name, _ in seen.most_common(6)]
    assert names[0] in busiest[:3] and all(name in busiest for name in names)
    assert seen[names[0]] > seen[names[2]]


def test_a_workflow_incident_fails_only_that_workflow_with_its_message_at_every_site():
    burst = {"workflow_rank": 2, "start_minute": 0, "minutes": 30, "failure_rate": 1.0, "exit_code": 8001, "message": MESSAGE}
    (target,) = burst_workflows({"bursts": [burst]}, 7)
    jobs = _jobs({"bursts": [burst]})
    hit = [j for j in jobs if j.workflow == target and j.site]
    assert len(hit) > 100 and all(j.failed and j.exit_code == 8001 for j in hit)
    assert len({j.site for j in hit}) >= 10
    assert all(j.errors[0].details == MESSAGE for j in hit)  # a log tail may follow it
    assert len({j.errors[0].signature for j in hit}) == 1
    others = [j for j in jobs if j.workflow != target]
    assert sum(j.exit_code == 8001 for j in others) < 0.02 * len(others)


def test_a_workflow_incident_at_a_site_stays_at_that_site():
    burst = {"workflow_rank": 1, "site": "T2_CH_CERN", "start_minute": 0, "minutes": 30, "failure_rate": 1.0, "exit_code": 60311}
    (target,) = burst_workflows({"bursts": [burst]}, 7)
    jobs = _jobs({"bursts": [burst]})
    at_site = [j for j in jobs if j.workflow == target and j.site == "T2_CH_CERN"]
    assert len(at_site) > 20 and all(j.exit_code == 60311 for j in at_site)
    assert sum(j.exit_step.startswith("stageOut") for j in at_site) > 0.5 * len(at_site)
    elsewhere = [j for j in jobs if j.workflow == target and j.site not in ("T2_CH_CERN", "")]
    assert sum(j.exit_code == 60311 for j in elsewhere) < 0.05 * len(elsewhere)


def test_bad_workflow_incidents_are_refused_naming_the_burst():
    with pytest.raises(ValueError, match=r"bursts\[0\]: workflow_rank counts from 1"):
        burst_workflows({"bursts": [{"workflow_rank": 0, "start_minute": 0, "minutes": 1, "failure_rate": 1, "exit_code": 1}]}, 7)
    with pytest.raises(ValueError, match=r"bursts\[0\]: workflow_rank 999, but only 170 workflows"):
        burst_workflows({"bursts": [{"workflow_rank": 999, "start_minute": 0, "minutes": 1, "failure_rate": 1, "exit_code": 1}]}, 7)
    with pytest.raises(ValueError, match=r"bursts\[0\] lacks \['site'\]"):
        burst_workflows({"bursts": [{"start_minute": 0, "minutes": 1, "failure_rate": 1, "exit_code": 1}]}, 7)
