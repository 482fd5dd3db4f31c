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
from typing import Any

from fwjr.bucket import FIXED_SECONDS
from fwjr.config import Settings
from fwjr.config import settings as current_settings
from fwjr.model import ERROR_KEYS
from fwjr.store import alerts, sql
from fwjr.store import evidence as store_evidence
from fwjr.store.connection import Store
from fwjr.triage.decide import Decision, Evidence, Pattern, SiteJobs, Thresholds, decide
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
    limits = chosen.triage_thresholds()
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
    limits = chosen.triage_thresholds()
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
        if not sum(r["failed"] for r in rows):
            continue
        made = decide(_evidence(workflow, None, rows, patterns_of[workflow], common), rules, limits)
        made.tasks = _task_decisions(workflow, rows, patterns_of[workflow], common, made, rules, limits)
        decisions.append(made)
    decisions.sort(key=lambda d: (-d.wasted_core_hours, -d.failed, d.workflow))
    failing = {d.workflow for d in decisions if d.failed >= limits.min_failures}
    similar = similar_workflows(error_vectors(r for r in patterns if r["workflow"] in failing), limits.similarity)
    grouped = groups(similar, [d.workflow for d in decisions])
    for d in decisions:
        d.similar = [s["workflow"] for s in similar.get(d.workflow, [])]
        d.group = grouped.get(d.workflow)
    return decisions


def _evidence(workflow: str, task: str | None, rows: list[dict[str, Any]], patterns: list[Pattern], common: dict[str, Any]) -> Evidence:
    per_site: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    inside, outside = [0, 0], [0, 0]
    wasted = 0.0
    for row in rows:
        per_site[row["site"]][0] += row["jobs"]
        per_site[row["site"]][1] += row["failed"]
        side = inside if row["inside"] else outside
        side[0] += row["jobs"]
        side[1] += row["failed"]
        wasted += float(row["wasted_core_hours"] or 0.0)
    return Evidence(
        workflow=workflow,
        task=task,
        jobs=inside[0] + outside[0],
        failed=inside[1] + outside[1],
        wasted_core_hours=wasted,
        patterns=tuple(patterns),
        sites=tuple(SiteJobs(site, jobs, failed) for site, (jobs, failed) in sorted(per_site.items())),
        inside=(inside[0], inside[1]),
        outside=(outside[0], outside[1]),
        **common,
    )


def _task_decisions(
    workflow: str, rows: list[dict[str, Any]], patterns: list[Pattern], common: dict[str, Any], overall: Decision,
    rules: RuleSet, limits: Thresholds,
) -> list[dict[str, Any]]:
    """The tasks whose own decision differs from the workflow's (verdict or remedy)."""
    tasks: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        tasks[row["task"]].append(row)
    if len(tasks) < 2:
        return []
    patterns_of: dict[str, list[Pattern]] = defaultdict(list)
    for p in patterns:
        patterns_of[p.task].append(p)
    differing = []
    for task, task_rows in sorted(tasks.items()):
        if sum(r["failed"] for r in task_rows) < limits.min_failures:
            continue
        own = decide(_evidence(workflow, task, task_rows, patterns_of[task], common), rules, limits)
        if (own.verdict, own.remedy) != (overall.verdict, overall.remedy):
            differing.append({"task": task, "verdict": own.verdict, "remedy": own.remedy, "rule": own.rule, "failed": own.failed,
                              "reason": own.reason})
    return differing
