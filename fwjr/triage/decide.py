"""The triage decision for one failing workflow (or task): a pure function of its evidence.

The checks, in order (docs/triage.md has the reasoning and the figures):

1. thin evidence: fewer than `min_failures` failed jobs -> `watch`;
2. service outage: the workflow fails significantly more inside outage windows than outside
   them (rate at least twice, z >= 3, the excess at least half of its main error) -> `retry`;
3. one site: at least `site_share` of its failures, or of its main error, at one site that
   fails it significantly more than its other sites, or most of its failures at a site whose
   own status is degraded or ban-suggested -> `site`;
4. the job itself: its main error (the failures sharing the winning remedy rule) must fail at
   least `min_pattern_rate` of its jobs and `min_ratio` times that error's usual rate over all
   workflows, else -> `watch` (it fails as everything fails); then by the rule's error class:
   resources -> `resources`, code or configuration -> `debug`, service -> `retry`, site
   errors at many sites and unknown errors -> `debug`.

Evidence is plain data (`Evidence`), built from the store by fwjr.triage.report or by hand.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fwjr import exit_codes
from fwjr.config import Settings
from fwjr.triage.rules import Rule, RuleSet, remedy_text
from fwjr.triage.sites import BAN, DEGRADED, SiteLimits, SiteStatus

VERDICTS: tuple[str, ...] = ("retry", "site", "resources", "debug", "watch")
MIN_Z = 3.0
OUTAGE_RATIO = 2.0
OUTAGE_EXCESS_SHARE = 0.5
TOP_CODES = 5
_CLASS_VERDICT = {"resources": "resources", "code": "debug", "configuration": "debug", "service": "retry", "site": "debug", "unknown": "debug"}


@dataclass(frozen=True)
class Thresholds:
    """The decision's knobs; triage_thresholds(settings) gives the configured ones."""

    min_failures: int
    min_pattern_rate: float
    min_ratio: float
    site_share: float
    similarity: float
    site: SiteLimits



def triage_thresholds(settings: Settings) -> Thresholds:
    """The decision's and the site status's knobs from `settings` (FWJR_TRIAGE_*, FWJR_SITE_*)."""
    return Thresholds(
        min_failures=settings.triage_min_failures,
        min_pattern_rate=settings.triage_min_pattern_rate,
        min_ratio=settings.triage_min_ratio,
        site_share=settings.triage_site_share,
        similarity=settings.triage_similarity,
        site=SiteLimits(
            degraded_below=settings.site_degraded_below,
            ban_below=settings.site_ban_below,
            min_jobs=settings.site_min_jobs,
            low_cpu_efficiency=settings.site_low_cpu_efficiency,
        ),
    )

@dataclass(frozen=True)
class Pattern:
    """One kind of step error of the workflow: where, with which code and message, how often."""

    step: str
    site: str
    exit_code: int
    count: int
    signature: str = ""
    message: str = ""
    task: str = ""


@dataclass(frozen=True)
class SiteJobs:
    """The workflow's jobs and failures at one site ("" = jobs that never reached a site)."""

    site: str
    jobs: int
    failed: int


@dataclass(frozen=True)
class Evidence:
    """What is known about one failing workflow (or one of its tasks) over the window."""

    workflow: str
    jobs: int
    failed: int
    wasted_core_hours: float
    patterns: tuple[Pattern, ...]
    sites: tuple[SiteJobs, ...]
    inside: tuple[int, int] = (0, 0)  # (jobs, failed) in buckets an outage window covers
    outside: tuple[int, int] = (0, 0)
    outages: tuple[str, ...] = ()  # the services whose windows overlap the range
    site_status: Mapping[str, SiteStatus] = field(default_factory=dict)
    usual_rates: Mapping[int, float] = field(default_factory=dict)  # exit code -> step errors per job, all workflows
    task: str | None = None


@dataclass(frozen=True)
class Failing:
    """Where a workflow fails over the window: the (task, site) pairs with failed jobs, and the
    (task, site, exit code) of its step errors. What a filter on decisions is matched against
    (fwjr.triage.select); not part of the decision's answer."""

    places: frozenset[tuple[str, str]]
    errors: frozenset[tuple[str, str, int]]


@dataclass
class Decision:
    workflow: str
    task: str | None
    verdict: str
    remedy: str
    rule: str | None
    error_class: str
    failed: int
    jobs: int
    wasted_core_hours: float
    top_exit_codes: list[dict[str, Any]]
    reason: str
    evidence: dict[str, Any]
    tasks: list[dict[str, Any]] = field(default_factory=list)
    similar: list[str] = field(default_factory=list)
    group: str | None = None
    failing: Failing | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "workflow": self.workflow,
            **({"task": self.task} if self.task is not None else {}),
            "verdict": self.verdict,
            "remedy": self.remedy,
            "rule": self.rule,
            "error_class": self.error_class,
            "failed": self.failed,
            "jobs": self.jobs,
            "wasted_core_hours": round(self.wasted_core_hours, 3),
            "top_exit_codes": self.top_exit_codes,
            "reason": self.reason,
            "evidence": self.evidence,
            "tasks": self.tasks,
            "similar": self.similar,
            "group": self.group,
        }


@dataclass
class _Group:
    """The failures that share one winning rule (or, without a rule, one exit code)."""

    rule: Rule | None
    count: int = 0
    codes: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    sites: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    signatures: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    passive: set[str] = field(default_factory=set)


def _groups(evidence: Evidence, rules: RuleSet) -> list[_Group]:
    groups: dict[str, _Group] = {}
    workflow = evidence.workflow
    for p in evidence.patterns:
        rule, passive = rules.best_of(p.step, p.exit_code, p.signature, p.message, p.site, workflow, p.task)
        key = rule.id if rule is not None else f"code:{p.exit_code}"
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(rule)
        group.count += p.count
        group.codes[p.exit_code] += p.count
        if p.site:
            group.sites[p.site] += p.count
        if p.signature:
            group.signatures[p.signature] += p.count
        if passive:
            group.passive.update(r.id for r in passive)
    return sorted(groups.values(), key=lambda g: (-g.count, g.rule.id if g.rule else ""))


def _z(excess: float, jobs: float, rate: float) -> float:
    return excess / math.sqrt(max(jobs * rate * (1.0 - rate), 1.0))


def _outage_test(evidence: Evidence, limits: Thresholds, main_count: int) -> tuple[bool, dict[str, Any]]:
    """Whether the workflow fails significantly more inside outage windows, by enough to explain
    at least half of its main error (a workflow may also fail at its own usual rate meanwhile)."""
    jobs_in, failed_in = evidence.inside
    jobs_out, failed_out = evidence.outside
    rate_in = failed_in / jobs_in if jobs_in else 0.0
    rate_out = failed_out / jobs_out if jobs_out else 0.0
    excess = failed_in - jobs_in * rate_out
    z = _z(excess, jobs_in, rate_out)
    significant = (
        bool(jobs_in and jobs_out)
        and failed_in >= limits.min_failures
        and z >= MIN_Z
        and rate_in >= OUTAGE_RATIO * rate_out
        and excess >= OUTAGE_EXCESS_SHARE * main_count
    )
    facts = {
        "services": list(evidence.outages),
        "jobs_in": jobs_in, "failed_in": failed_in, "jobs_out": jobs_out, "failed_out": failed_out,
        "rate_in": round(rate_in, 4), "rate_out": round(rate_out, 4), "excess": round(excess, 1), "z": round(z, 2),
        "significant": significant,
    }
    return significant, facts


def _site_test(evidence: Evidence, limits: Thresholds, main: _Group | None) -> tuple[str | None, dict[str, Any]]:
    """The site the failures concentrate at, if they do: the site holding most of the main error
    (or, without one, most failures), failing the workflow far more than its other sites."""
    sited = [s for s in evidence.sites if s.site]
    ran_at = [s.site for s in sited if s.jobs]
    failing = sorted((s for s in sited if s.failed), key=lambda s: (-s.failed, s.site))
    facts: dict[str, Any] = {"sites_run": len(ran_at), "sites_failing": len(failing), "top_site": None}
    if not failing:
        return None, facts
    top = failing[0]
    main_share = 0.0
    if main is not None and main.sites:
        main_site, at_site = sorted(main.sites.items(), key=lambda item: (-item[1], item[0]))[0]
        main_share = at_site / main.count
        top = next((s for s in sited if s.site == main_site), top)
    share = top.failed / evidence.failed if evidence.failed else 0.0
    rest_jobs = sum(s.jobs for s in sited) - top.jobs
    rest_failed = sum(s.failed for s in sited) - top.failed
    rate_top = top.failed / top.jobs if top.jobs else 0.0
    rate_rest = rest_failed / rest_jobs if rest_jobs else 0.0
    z = _z(top.failed - top.jobs * rate_rest, top.jobs, rate_rest)
    status = evidence.site_status.get(top.site)
    facts.update(top_site=top.site, top_site_share=round(share, 3), main_error_share=round(main_share, 3), top_site_rate=round(rate_top, 4), other_sites_rate=round(rate_rest, 4),
                 top_site_z=round(z, 2), top_site_status=status.status if status else None)
    if top.failed < limits.min_failures:
        return None, facts
    concentrated = share >= limits.site_share or main_share >= limits.site_share
    apart = rest_jobs > 0 and concentrated and z >= MIN_Z and rate_top >= limits.min_ratio * rate_rest
    troubled = status is not None and status.status in (BAN, DEGRADED) and share >= 0.5 and rate_top >= OUTAGE_RATIO * rate_rest
    return (top.site if apart or troubled else None), facts


def _top_codes(groups: list[_Group]) -> list[dict[str, Any]]:
    codes: dict[int, int] = defaultdict(int)
    for group in groups:
        for code, count in group.codes.items():
            codes[code] += count
    ranked = sorted(codes.items(), key=lambda item: (-item[1], item[0]))[:TOP_CODES]
    return [{"exit_code": code, "count": count, "description": exit_codes.describe(code)} for code, count in ranked]


def _remedy(rule: Rule | None, fallback: str) -> tuple[str, dict[str, Any]]:
    if rule is None:
        return fallback, {"action": fallback}
    return remedy_text(rule.remedy), rule.remedy.model_dump()


def decide(evidence: Evidence, rules: RuleSet, limits: Thresholds) -> Decision:
    """The verdict, remedy and evidence for one workflow (or task)."""
    groups = _groups(evidence, rules)
    main = groups[0] if groups else None
    rule = main.rule if main else None
    error_class = rule.error_class if rule else "unknown"
    outage_hit, outage = _outage_test(evidence, limits, main.count if main else evidence.failed)
    site, spread = _site_test(evidence, limits, main)
    pattern_rate = main.count / evidence.jobs if main and evidence.jobs else 0.0
    usual = sum(evidence.usual_rates.get(code, 0.0) for code in main.codes) if main else 0.0
    enriched = bool(main) and main.count >= limits.min_failures and pattern_rate >= limits.min_pattern_rate and pattern_rate >= limits.min_ratio * usual
    facts: dict[str, Any] = {
        "rule": rule.id if rule else None,
        "rule_source": rule.source if rule else None,
        "passive_rules": sorted(main.passive) if main else [],
        "main_error": {
            "count": main.count if main else 0,
            "share_of_jobs": round(pattern_rate, 4),
            "usual_rate": round(usual, 5),
            "exit_codes": sorted(main.codes) if main else [],
            "signatures": [s for s, _ in sorted(main.signatures.items(), key=lambda i: (-i[1], i[0]))[:3]] if main else [],
            "sites": len(main.sites) if main else 0,
        },
        "outage": outage,
        "spread": spread,
        "site_status": {s.site: evidence.site_status[s.site].status for s in evidence.sites if s.site in evidence.site_status and s.failed},
        "failure_rate": round(evidence.failed / evidence.jobs, 4) if evidence.jobs else None,
    }

    def made(verdict: str, remedy: tuple[str, dict[str, Any]], reason: str, cls: str = error_class) -> Decision:
        facts["remedy"] = remedy[1]
        return Decision(evidence.workflow, evidence.task, verdict, remedy[0], rule.id if rule else None, cls, evidence.failed,
                        evidence.jobs, evidence.wasted_core_hours, _top_codes(groups), reason, facts)

    if evidence.failed < limits.min_failures:
        return made("watch", ("none", {"action": "none"}), f"{evidence.failed} failed jobs: fewer than {limits.min_failures}")
    if outage_hit:
        services = ", ".join(evidence.outages) or "a service"
        keep = rule is not None and rule.error_class == "service"
        return made("retry", _remedy(rule if keep else None, "acdc"),
                    f"{outage['failed_in']} of {evidence.failed} failures inside outages of {services} "
                    f"(rate {outage['rate_in']:.1%} against {outage['rate_out']:.1%} outside)", "service")
    if site is not None:
        keep = rule is not None and rule.error_class == "site"
        status = spread["top_site_status"] or "no status"
        return made("site", _remedy(rule if keep else None, "site-support"),
                    f"{max(spread['top_site_share'], spread['main_error_share']):.0%} of the failures at {site} ({status}; rate {spread['top_site_rate']:.1%} "
                    f"against {spread['other_sites_rate']:.1%} at its other sites)", "site")
    if not enriched or main is None:
        return made("watch", ("none", {"action": "none"}),
                    f"main error fails {pattern_rate:.1%} of its jobs, its usual rate is {usual:.2%}: not clearly this workflow's")
    verdict = _CLASS_VERDICT[error_class]
    where = f"at {len(main.sites)} of {spread['sites_run']} sites"
    # a site error at many sites is the workflow's (its output, its configuration), not a site's
    own = rule if error_class != "site" else None
    return made(verdict, _remedy(own, "open-issue"),
                f"{error_class} error fails {pattern_rate:.1%} of its jobs {where} ({pattern_rate / usual if usual else float('inf'):.0f}x its usual rate)")
