"""Triage decisions as the board shows them: read for a view, summed up for a table row, and
the site status card that the overview, the errors page and the queue share.

A preset window's decisions (24h, 7d, ...) come from the board's snapshot of its unfiltered
triage (fwjr.triage.snapshot, refreshed every triage_refresh_seconds); a custom range's are
computed for the request. Filters select workflows, each with its whole decision
(fwjr.triage.select), so a workflow reads the same on the queue, filtered or not, and on its
workflow page. In a custom range the workflow page asks for its workflow only (its decision
does not depend on the other workflows: the site status and each exit code's usual rate are
read over every workflow) and reads its similar workflows apart (fwjr.triage.report.similar_to).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dash import html

from dashboard import components, context, units
from fwjr.store import error_reads
from fwjr.store.connection import Store
from fwjr.triage.decide import Decision, triage_thresholds
from fwjr.triage.report import similar_to, triage
from fwjr.triage.select import select, triage_selected
from fwjr.triage.sites import BAN, DEGRADED, SiteStatus, site_statuses
from fwjr.triage.snapshot import Snapshot

# Site status names as the board words them, and the statuses a card lists.
FLAGGED = (BAN, DEGRADED)
SITES_SHOWN = 12


@dataclass(frozen=True)
class Served:
    """Decisions as a page or the API gets them, the window they are of and when they were computed."""

    decisions: list[Decision]
    answers: list[dict[str, Any]]  # the decisions' as_dict, in order; a snapshot's are shared: read-only
    start: int
    end: int
    as_of: int
    refresh_seconds: float | None  # None: computed for this request (a custom range)
    snapshot: Snapshot | None  # the snapshot they are from, for what a page derives from it once

    def age_text(self) -> str:
        """"decisions as of 12:00:05 UTC, refreshed every 60 s", or when a custom range's were computed."""
        clock = time.strftime("%H:%M:%S", time.gmtime(self.as_of))
        if self.refresh_seconds is None:
            return f"decisions computed at {clock} UTC for this range"
        return f"decisions as of {clock} UTC, refreshed every {self.refresh_seconds:g} s"


def decisions(preset: str | None, start: int, end: int, filters: Mapping[str, Any] | None = None) -> Served:
    """The decisions of the failing workflows the filters select, most wasted core-hours first:
    of the `preset` window's snapshot, or (preset None) of [start, end) computed now."""
    store = context.store()
    if preset is None:
        return _computed(triage_selected(store, start, end, filters, settings=context.settings(), now=context.now()), start, end)
    snapshot = context.snapshots().get(preset)
    chosen = select(store, snapshot.start, snapshot.end, snapshot.decisions, filters)
    return _from_snapshot(snapshot, chosen)


def decision_of(preset: str | None, start: int, end: int, workflow: str) -> Served:
    """One workflow's decision with its similar workflows (none when it has no failed job):
    looked up in the `preset` window's snapshot, or (preset None) computed for [start, end)."""
    if preset is not None:
        snapshot = context.snapshots().get(preset)
        found = snapshot.decision(workflow)
        return _from_snapshot(snapshot, [found] if found else [])
    store = context.store()
    mine = triage(store, start, end, {"workflow": workflow}, settings=context.settings(), now=context.now())
    for decision in mine:
        decision.similar = [s["workflow"] for s in similar_to(store, start, end, workflow, settings=context.settings())]
    return _computed(mine, start, end)


def _from_snapshot(snapshot: Snapshot, chosen: list[Decision]) -> Served:
    return Served(chosen, [snapshot.answers[d.workflow] for d in chosen], snapshot.start, snapshot.end, snapshot.as_of,
                  context.snapshots().refresh_seconds, snapshot)


def _computed(found: list[Decision], start: int, end: int) -> Served:
    return Served(found, [d.as_dict() for d in found], start, end, context.now(), None, None)


def pattern(store: Store, start: int, end: int, workflow: str) -> list[dict[str, Any]]:
    """The workflow's step errors per exit code x site x step: the `pattern` an action's evidence
    keeps (the contract of fwjr.ops.suggestions)."""
    return pattern_of(error_reads.error_matrix(store, start, end, "exit_code", "site", "step", {"workflow": workflow}))


def pattern_of(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The pattern from step-error cells by exit code, site and step (error_reads.error_matrix)."""
    return [{"exit_code": int(c["exit_code"]), "site": c["site"], "step": c["step"], "count": int(c["count"])} for c in cells]


def outage_share(decision: Decision) -> float | None:
    """The share of the workflow's failures that fell inside outage windows (None without failures)."""
    outage = decision.evidence.get("outage") or {}
    return outage.get("failed_in", 0) / decision.failed if decision.failed else None


def codes_text(decision: Decision) -> str:
    """"8028 ×120, 50660 ×3": the top exit codes at a glance."""
    return ", ".join(f"{c['exit_code']} ×{units.number(c['count'])}" for c in decision.top_exit_codes)


def sites_text(decision: Decision, limit: int | None = None) -> str:
    """The failing sites with their status, the site most of the failures are at first, then the flagged
    ones: "T2_CH_CERN (ban-suggested), T1_US_FNAL_Disk (ok)"; with a `limit`, the first ones and how many more."""
    statuses: dict[str, str] = decision.evidence.get("site_status") or {}
    top = (decision.evidence.get("spread") or {}).get("top_site")
    ordered = sorted(statuses.items(), key=lambda item: (item[0] != top, item[1] not in FLAGGED, item[1] != BAN, item[0]))
    shown = ordered if limit is None else ordered[:limit]
    text = ", ".join(f"{site} ({status})" for site, status in shown)
    return text + (f", +{len(ordered) - len(shown)} more" if len(shown) < len(ordered) else "")


def shown_evidence(decision: Decision, found: list[dict[str, Any]]) -> dict[str, Any]:
    """What an operator saw when deciding, as an action stores it: the decision and the pattern."""
    return {
        "pattern": found, "verdict": decision.verdict, "remedy": decision.remedy, "rule": decision.rule or "",
        "error_class": decision.error_class, "reason": decision.reason, "failed": decision.failed, "jobs": decision.jobs,
        "wasted_core_hours": round(decision.wasted_core_hours, 3), "top_exit_codes": decision.top_exit_codes,
        "evidence": decision.evidence,
    }


def site_status_card(start: int, end: int, element_id: str, filters: Mapping[str, Any] | None = None) -> html.Div:
    """The sites whose own jobs say they are in trouble (degraded, ban suggested) in the window."""
    limits = triage_thresholds(context.settings()).site
    try:
        found, ms = components.timed(site_statuses, context.store(), start, end, limits, filters)
    except Exception as error:
        return components.card("Site status", components.failure("The site status", error), card_id=element_id)
    flagged = [s for s in found if s.status in FLAGGED]
    body: Any
    if flagged:
        body = html.Ul([_site_line(s) for s in flagged[:SITES_SHOWN]], className="site-status-list")
    else:
        body = components.notice(f"No site below {limits.degraded_below:.0%} job success (with at least {limits.min_jobs} jobs).", "info")
    footer = (f"{len(flagged)} of {len(found)} sites flagged: degraded below {limits.degraded_below:.0%} success, "
              f"ban suggested below {limits.ban_below:.0%} · query {ms:.0f} ms")
    return components.card("Site status from the jobs", body, footer, card_id=element_id)


def _site_line(status: SiteStatus) -> html.Li:
    rate = f"{status.success_rate:.0%}" if status.success_rate is not None else "?"
    text = f"{status.site}: {status.status}, {rate} of {units.number(status.jobs)} jobs succeeded"
    if status.low_cpu_efficiency and status.cpu_efficiency is not None:
        text += f", CPU efficiency {status.cpu_efficiency:.0%}"
    return html.Li(text, className=f"site-status site-{status.status}", **{"data-site": status.site})
