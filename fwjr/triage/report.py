"""The triage of a range: one decision per failing workflow, with its tasks and similar workflows.

`triage(store, start, end, filters)` is what the CLI, the API and the board's pages call. It
reads the evidence in five queries whatever the number of workflows (fwjr.store.evidence and alerts: outage windows,
jobs and failures per workflow, task and site inside and outside them, error patterns, site
totals, each exit code's step errors) and decides each workflow with the
pure fwjr.triage.decide. Filters are those of fwjr.store.sql (scope keys); the error patterns are
narrowed by the filter keys the errors table has (workflow, task, site, exit_code).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fwjr.bucket import FIXED_SECONDS
from fwjr.config import Settings
from fwjr.config import settings as current_settings
from fwjr.model import ERROR_KEYS
from fwjr.store import alerts, sql
from fwjr.store import evidence as store_evidence
from fwjr.store.connection import Store
from fwjr.triage.decide import Decision, Evidence, Failing, Pattern, SiteJobs, Thresholds, decide, triage_thresholds
from fwjr.triage.rules import RuleSet, load_rules
from fwjr.triage.similar import error_vectors, groups, most_similar, similar_workflows
from fwjr.triage.sites import SiteStatus, statuses

_MONTH = 31 * 86400


def triage(
    store: Store,
    start: int,
    end: int,
    filters: Mapping[str, Any] | None = None,
    settings: Settings | None = None,
    now: int | None = None,
    rules: RuleSet | None = None,
) -> list[Decision]:
    """Every workflow with failed jobs in [start, end), most wasted core-hours first (then failures).

    `settings` gives the thresholds, the rules file and the precision ladder (default: the
    process's); `now` closes still-open outages (default: the clock); `rules` overrides the file.
    """
    chosen = settings or current_settings()
    limits = triage_thresholds(chosen)
    rules = rules or load_rules(chosen.triage_rules_file)
    now = int(time.time()) if now is None else int(now)
    precision = sql.finest_precision(start, end, now, sql.ladder(chosen))
    outages = alerts.outage_windows(store, start, end)
    windows = [(o["start"], o["end"] if o["end"] is not None else now) for o in outages]
    counts = store_evidence.scope_outage_counts(store, start, end, windows, FIXED_SECONDS.get(precision, _MONTH), filters)
    error_filters = {k: v for k, v in (filters or {}).items() if k in ERROR_KEYS}
    patterns = store_evidence.error_patterns(store, start, end, error_filters)
    site_rows = store_evidence.site_counts(store, start, end)
    total_jobs = sum(row["jobs"] for row in site_rows)
    usual = {code: count / total_jobs for code, count in store_evidence.error_code_counts(store, start, end).items()} if total_jobs else {}
    services = tuple(sorted({o["service"] for o in outages}))
    return decide_all(counts, patterns, statuses(site_rows, limits.site), usual, services, rules, limits)


def similar_to(
    store: Store, start: int, end: int, workflow: str, filters: Mapping[str, Any] | None = None, settings: Settings | None = None,
) -> list[dict[str, Any]]:
    """The workflows failing like `workflow` in [start, end): [{workflow, similarity}], most similar
    first (for the workflow page; the triage's `similar` lists the same)."""
    chosen = settings or current_settings()
    limits = triage_thresholds(chosen)
    error_filters = {k: v for k, v in (filters or {}).items() if k in ERROR_KEYS and k != "workflow"}
    vectors = error_vectors(store_evidence.error_pattern_counts(store, start, end, error_filters))
    return most_similar(vectors, workflow, limits.similarity)


def decide_all(
    counts: list[dict[str, Any]],
    patterns: list[dict[str, Any]],
    sites: Mapping[str, SiteStatus],
    usual: Mapping[int, float],
    services: tuple[str, ...],
    rules: RuleSet,
    limits: Thresholds,
) -> list[Decision]:
    """The decisions from the evidence rows (fwjr.store.evidence.scope_outage_counts and error_patterns)."""
    by_workflow: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in counts:
        by_workflow[row["workflow"]].append(row)
    patterns_of: dict[str, list[Pattern]] = defaultdict(list)
    for p in patterns:
        if p["workflow"] in by_workflow:
            patterns_of[p["workflow"]].append(
                Pattern(p["step"], p["site"], int(p["exit_code"]), int(p["count"]), p["signature"], p["example"] or "", p["task"]))
    common = {"site_status": sites, "usual_rates": usual, "outages": services}
    decisions = []
    for workflow, rows in by_workflow.items():
        whole, tasks = _tallies(rows)
        if not whole.failed:
            continue
        mine = patterns_of[workflow]
        made = decide(whole.evidence(workflow, None, mine, common), rules, limits)
        made.tasks = _task_decisions(workflow, tasks, mine, common, made, rules, limits)
        made.failing = _failing(tasks, mine)
        decisions.append(made)
    decisions.sort(key=lambda d: (-d.wasted_core_hours, -d.failed, d.workflow))
    failing = {d.workflow for d in decisions if d.failed >= limits.min_failures}
    similar = similar_workflows(error_vectors(r for r in patterns if r["workflow"] in failing), limits.similarity)
    grouped = groups(similar, [d.workflow for d in decisions])
    for d in decisions:
        d.similar = [s["workflow"] for s in similar.get(d.workflow, [])]
        d.group = grouped.get(d.workflow)
    return decisions


@dataclass
class _Tally:
    """A workflow's (or task's) count rows summed: jobs and failures per site, inside and outside
    outage windows, wasted core-hours (summed in the rows' order, so a workflow's figure does not
    depend on how its rows are split into tasks)."""

    per_site: dict[str, list[int]] = field(default_factory=dict)
    inside: list[int] = field(default_factory=lambda: [0, 0])
    outside: list[int] = field(default_factory=lambda: [0, 0])
    wasted: float = 0.0

    @property
    def failed(self) -> int:
        return self.inside[1] + self.outside[1]

    def add(self, row: Mapping[str, Any]) -> None:
        jobs, failed = row["jobs"], row["failed"]
        site = self.per_site.get(row["site"])
        if site is None:
            site = self.per_site[row["site"]] = [0, 0]
        site[0] += jobs
        site[1] += failed
        side = self.inside if row["inside"] else self.outside
        side[0] += jobs
        side[1] += failed
        self.wasted += float(row["wasted_core_hours"] or 0.0)

    def evidence(self, workflow: str, task: str | None, patterns: list[Pattern], common: dict[str, Any]) -> Evidence:
        return Evidence(
            workflow=workflow,
            task=task,
            jobs=self.inside[0] + self.outside[0],
            failed=self.failed,
            wasted_core_hours=self.wasted,
            patterns=tuple(patterns),
            sites=tuple(SiteJobs(site, jobs, failed) for site, (jobs, failed) in sorted(self.per_site.items())),
            inside=(self.inside[0], self.inside[1]),
            outside=(self.outside[0], self.outside[1]),
            **common,
        )


def _tallies(rows: list[dict[str, Any]]) -> tuple[_Tally, dict[str, _Tally]]:
    """The workflow's tally and each of its tasks', in one pass over its count rows."""
    whole = _Tally()
    tasks: dict[str, _Tally] = {}
    for row in rows:
        whole.add(row)
        task = tasks.get(row["task"])
        if task is None:
            task = tasks[row["task"]] = _Tally()
        task.add(row)
    return whole, tasks


def _failing(tasks: dict[str, _Tally], patterns: list[Pattern]) -> Failing:
    places = frozenset((task, site) for task, tally in tasks.items() for site, (_, failed) in tally.per_site.items() if failed)
    return Failing(places, frozenset((p.task, p.site, p.exit_code) for p in patterns))


def _task_decisions(
    workflow: str, tasks: dict[str, _Tally], patterns: list[Pattern], common: dict[str, Any], overall: Decision,
    rules: RuleSet, limits: Thresholds,
) -> list[dict[str, Any]]:
    """The tasks whose own decision differs from the workflow's (verdict or remedy)."""
    if len(tasks) < 2:
        return []
    patterns_of: dict[str, list[Pattern]] = defaultdict(list)
    for p in patterns:
        patterns_of[p.task].append(p)
    differing = []
    for task, tally in sorted(tasks.items()):
        if tally.failed < limits.min_failures:
            continue
        own = decide(tally.evidence(workflow, task, patterns_of[task], common), rules, limits)
        if (own.verdict, own.remedy) != (overall.verdict, overall.remedy):
            differing.append({"task": task, "verdict": own.verdict, "remedy": own.remedy, "rule": own.rule, "failed": own.failed,
                              "reason": own.reason})
    return differing
