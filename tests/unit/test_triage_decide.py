"""The triage decision on hand-built evidence, the site status, and similar workflows."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fwjr.config import Settings
from fwjr.triage.decide import Evidence, Pattern, SiteJobs, decide, triage_thresholds
from fwjr.triage.report import decide_all
from fwjr.triage.rules import default_rules
from fwjr.triage.similar import error_vectors, groups, similar_workflows
from fwjr.triage.sites import BAN, DEGRADED, OK, TOO_FEW, site_status, statuses

LIMITS = triage_thresholds(Settings())
RULES = default_rules()
SITES = ("T1_US_FNAL_Disk", "T2_CH_CERN", "T2_DE_DESY", "T2_US_Purdue")
USUAL = {50660: 0.004, 8021: 0.01, 60311: 0.002, 8001: 0.003, 85: 0.004}


def _evidence(patterns: list[Pattern], sites: list[SiteJobs], inside=(0, 0), outside=None, **more) -> Evidence:
    jobs = sum(s.jobs for s in sites)
    failed = sum(s.failed for s in sites)
    return Evidence(
        workflow="wf", jobs=jobs, failed=failed, wasted_core_hours=12.5, patterns=tuple(patterns), sites=tuple(sites),
        inside=inside, outside=outside if outside is not None else (jobs - inside[0], failed - inside[1]),
        usual_rates=USUAL, **more,
    )


def _everywhere(code: int, step: str, per_site: int, jobs: int = 400, signature: str = "s1", message: str = "") -> tuple[list, list]:
    patterns = [Pattern(step, site, code, per_site, signature, message) for site in SITES]
    return patterns, [SiteJobs(site, jobs, per_site) for site in SITES]


def test_site_status_thresholds():
    limits = LIMITS.site
    assert site_status("A", 100, 5, 80.0, 100.0, limits).status == OK
    assert site_status("A", 100, 11, 80.0, 100.0, limits).status == DEGRADED
    assert site_status("A", 100, 10, 80.0, 100.0, limits).status == OK  # exactly 90% is not below it
    assert site_status("A", 100, 51, 80.0, 100.0, limits).status == BAN
    assert site_status("A", 9, 9, 1.0, 2.0, limits).status == TOO_FEW
    slow = site_status("A", 100, 0, 30.0, 100.0, limits)
    assert (slow.status, slow.cpu_efficiency, slow.low_cpu_efficiency) == (OK, 0.3, True)
    found = statuses([{"site": "", "jobs": 50, "failed": 50, "cpu_hours": 0, "core_hours": 0},
                      {"site": "B", "jobs": 20, "failed": 15, "cpu_hours": 1.0, "core_hours": 4.0}], limits)
    assert list(found) == ["B"] and found["B"].status == BAN and found["B"].success_rate == 0.25


def test_memory_exhausted_everywhere_is_resources_with_more_memory():
    patterns, sites = _everywhere(50660, "cmsRun1", 80)
    made = decide(_evidence(patterns, sites), RULES, LIMITS)
    assert (made.verdict, made.remedy, made.rule, made.error_class) == ("resources", "more-memory +1000MB", "unified-50660-memory", "resources")
    assert made.top_exit_codes[0]["exit_code"] == 50660 and made.top_exit_codes[0]["count"] == 320
    assert made.evidence["main_error"]["sites"] == 4 and made.evidence["remedy"] == {"action": "more-memory", "memory_mb": 1000}


def test_same_code_and_signature_at_every_site_is_debug():
    patterns, sites = _everywhere(8001, "cmsRun1", 60, signature="abc123def456", message="ProductNotFound")
    made = decide(_evidence(patterns, sites), RULES, LIMITS)
    assert (made.verdict, made.remedy, made.rule) == ("debug", "open-issue", "strong-failure")
    assert made.evidence["main_error"]["signatures"] == ["abc123def456"]


def test_failures_inside_an_outage_are_retry():
    patterns = [Pattern("cmsRun1", "T1_US_FNAL_Disk", 8021, 90)]
    sites = [SiteJobs("T1_US_FNAL_Disk", 600, 95), SiteJobs("T2_CH_CERN", 300, 5)]
    made = decide(_evidence(patterns, sites, inside=(300, 88), outages=("EOS",)), RULES, LIMITS)
    assert (made.verdict, made.remedy, made.error_class) == ("retry", "acdc", "service")
    assert made.evidence["outage"]["significant"] and made.evidence["outage"]["services"] == ["EOS"]
    # the same failures spread evenly in and out of the outage: not a service problem
    even = decide(_evidence(patterns, sites, inside=(450, 50), outages=("EOS",)), RULES, LIMITS)
    assert even.verdict != "retry" and not even.evidence["outage"]["significant"]


def test_a_code_error_inside_an_outage_is_retry_with_resubmission():
    patterns = [Pattern("cmsRun1", site, 8001, 25) for site in SITES]
    sites = [SiteJobs(site, 250, 25) for site in SITES]
    made = decide(_evidence(patterns, sites, inside=(300, 95), outages=("CVMFS",)), RULES, LIMITS)
    assert (made.verdict, made.remedy) == ("retry", "acdc")


def test_stage_out_at_one_site_is_site():
    patterns = [Pattern("stageOut1", "T2_DE_DESY", 60311, 150)] + [Pattern("cmsRun1", s, 8021, 2) for s in SITES[:3]]
    sites = [SiteJobs("T2_DE_DESY", 200, 152)] + [SiteJobs(s, 400, 2) for s in SITES if s != "T2_DE_DESY"]
    made = decide(_evidence(patterns, sites), RULES, LIMITS)
    assert (made.verdict, made.remedy, made.rule) == ("site", "site-support", "stage-out-codes")
    assert made.evidence["spread"]["top_site"] == "T2_DE_DESY"
    # a memory error at one site is still that site's problem: site support, not the rule's remedy
    memory = [Pattern("cmsRun1", "T2_DE_DESY", 50660, 150)]
    at_one = decide(_evidence(memory, sites), RULES, LIMITS)
    assert (at_one.verdict, at_one.remedy, at_one.error_class) == ("site", "site-support", "site")


def test_a_degraded_site_with_most_failures_is_site_below_the_share():
    status = {"T2_US_Purdue": site_status("T2_US_Purdue", 1000, 300, 1, 2, LIMITS.site)}
    patterns = [Pattern("cmsRun1", "T2_US_Purdue", 8021, 30), Pattern("cmsRun1", "T2_CH_CERN", 8021, 20)]
    sites = [SiteJobs("T2_US_Purdue", 100, 30), SiteJobs("T2_CH_CERN", 400, 20)]
    made = decide(_evidence(patterns, sites, site_status=status), RULES, LIMITS)
    assert made.verdict == "site" and made.evidence["spread"]["top_site_status"] == DEGRADED
    assert decide(_evidence(patterns, sites), RULES, LIMITS).verdict != "site"


def test_thin_or_usual_failures_are_watch():
    patterns, sites = _everywhere(50660, "cmsRun1", 2)
    thin = decide(_evidence(patterns, sites), RULES, LIMITS)
    assert (thin.verdict, thin.remedy) == ("watch", "none") and "fewer than 10" in thin.reason
    # 1% of the jobs fail with 50660 where every workflow's usual rate is 0.4%: not this workflow's
    patterns, sites = _everywhere(50660, "cmsRun1", 10, jobs=1000)
    usual = decide(_evidence(patterns, sites), RULES, LIMITS)
    assert usual.verdict == "watch" and "usual rate" in usual.reason
    # the same share with a usual rate ten times lower is this workflow's
    rare = decide(replace(_evidence(patterns, sites), usual_rates={50660: 0.0004}), RULES, replace(LIMITS, min_pattern_rate=0.005))
    assert rare.verdict == "resources"


def test_passive_rules_show_in_evidence_not_in_the_decision():
    patterns, sites = _everywhere(8021, "cmsRun1", 60)
    made = decide(_evidence(patterns, sites), RULES, LIMITS)
    assert made.rule == "input-file-missing" and made.evidence["passive_rules"] == ["unified-8021-notify"]
    assert (made.verdict, made.remedy) == ("retry", "acdc")


def test_decide_all_ranks_by_wasted_core_hours_and_groups_similar_workflows():
    def rows(workflow: str, failed: int, wasted: float, task: str = "/t/a") -> list[dict]:
        return [{"workflow": workflow, "task": task, "site": s, "inside": 0, "jobs": 400, "failed": failed, "wasted_core_hours": wasted}
                for s in SITES]

    def errors(workflow: str, code: int, count: int, task: str = "/t/a") -> list[dict]:
        return [{"workflow": workflow, "task": task, "step": "cmsRun1", "site": s, "exit_code": code, "signature": "x",
                 "count": count, "example": ""} for s in SITES]

    counts = rows("mem-a", 80, 1.0) + rows("mem-b", 70, 9.0) + rows("code-c", 60, 5.0) + rows("calm", 0, 0.0)
    counts += rows("mem-a", 70, 1.0, task="/t/b")
    patterns = errors("mem-a", 50660, 80) + errors("mem-b", 50660, 70) + errors("code-c", 8001, 60)
    patterns += errors("mem-a", 8001, 30, task="/t/b")
    decisions = decide_all(counts, patterns, {}, USUAL, (), RULES, LIMITS)
    assert [d.workflow for d in decisions] == ["mem-b", "code-c", "mem-a"]
    by_name = {d.workflow: d for d in decisions}
    assert by_name["mem-b"].similar == ["mem-a"] and by_name["mem-a"].group == by_name["mem-b"].group == "g1"
    assert by_name["code-c"].group is None
    assert by_name["mem-a"].tasks == [{**by_name["mem-a"].tasks[0], "task": "/t/b", "verdict": "debug", "remedy": "open-issue"}]


def test_similarity_is_the_cosine_of_normalised_patterns():
    rows = [
        {"workflow": "a", "step": "cmsRun1", "site": "S1", "exit_code": 1, "count": 10},
        {"workflow": "b", "step": "cmsRun2", "site": "S1", "exit_code": 1, "count": 1000},
        {"workflow": "c", "step": "cmsRun1", "site": "S2", "exit_code": 1, "count": 10},
        {"workflow": "d", "step": "cmsRun1", "site": "S1", "exit_code": 1, "count": 10},
        {"workflow": "d", "step": "cmsRun1", "site": "S2", "exit_code": 1, "count": 10},
    ]
    found = similar_workflows(error_vectors(rows), 0.7)
    assert [s["workflow"] for s in found["a"]] == ["b", "d"] and found["a"][0]["similarity"] == pytest.approx(1.0)
    assert found["d"][0]["similarity"] == pytest.approx(0.707, abs=1e-3)
    assert found["c"] == [{"workflow": "d", "similarity": pytest.approx(0.707, abs=1e-3)}]
    assert groups(found, ["c", "a", "b", "d"]) == {"c": "g1", "a": "g1", "b": "g1", "d": "g1"}
    assert groups(similar_workflows(error_vectors(rows), 0.99), ["c", "a", "b"]) == {"a": "g1", "b": "g1"}


def test_a_site_error_at_every_site_is_the_workflows_own():
    patterns, sites = _everywhere(60311, "stageOut1", 60)
    made = decide(_evidence(patterns, sites), RULES, LIMITS)
    assert (made.verdict, made.remedy, made.rule) == ("debug", "open-issue", "stage-out-codes")
