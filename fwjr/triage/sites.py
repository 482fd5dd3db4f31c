"""Site status from the jobs themselves: success rate and CPU efficiency per site and window.

DIRAC's site monitoring marks a site degraded below 90% job efficiency and suggests a ban
below 50%, given at least 10 jobs; the same rule here, on the success rate of the jobs that
ran at the site in the window (thresholds in fwjr.config: site_degraded_below, site_ban_below,
site_min_jobs). CPU efficiency (CPU time over core time) is reported and flagged below
site_low_cpu_efficiency, without changing the status: an I/O-bound workload is slow, not broken.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from fwjr.store.connection import Store

OK = "ok"
DEGRADED = "degraded"
BAN = "ban-suggested"
TOO_FEW = "too-few-jobs"
STATUSES: tuple[str, ...] = (OK, DEGRADED, BAN, TOO_FEW)


@dataclass(frozen=True)
class SiteLimits:
    """The status thresholds; fwjr.triage.decide.triage_thresholds(settings).site gives the configured ones."""

    degraded_below: float
    ban_below: float
    min_jobs: int
    low_cpu_efficiency: float


@dataclass(frozen=True)
class SiteStatus:
    site: str
    status: str
    jobs: int
    failed: int
    success_rate: float | None
    cpu_efficiency: float | None
    low_cpu_efficiency: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def site_status(site: str, jobs: int, failed: int, cpu_hours: float, core_hours: float, limits: SiteLimits) -> SiteStatus:
    """One site's status from its jobs, failures and hours in the window."""
    success = (jobs - failed) / jobs if jobs else None
    efficiency = cpu_hours / core_hours if core_hours > 0 else None
    if jobs < limits.min_jobs or success is None:
        status = TOO_FEW
    elif success < limits.ban_below:
        status = BAN
    elif success < limits.degraded_below:
        status = DEGRADED
    else:
        status = OK
    low = efficiency is not None and jobs >= limits.min_jobs and efficiency < limits.low_cpu_efficiency
    return SiteStatus(site, status, int(jobs), int(failed), success, efficiency, low)


def statuses(rows: Iterable[Mapping[str, Any]], limits: SiteLimits) -> dict[str, SiteStatus]:
    """Site -> status from fwjr.store.evidence.site_counts rows; jobs without a site ("") get none."""
    return {
        row["site"]: site_status(row["site"], int(row["jobs"]), int(row["failed"]), float(row["cpu_hours"]), float(row["core_hours"]), limits)
        for row in rows
        if row["site"]
    }


def site_statuses(store: Store, start: int, end: int, limits: SiteLimits, filters: Mapping[str, Any] | None = None) -> list[SiteStatus]:
    """Every site's status over [start, end), worst first (ban, degraded, ok, too few jobs), then most jobs.

    For the overview and the errors page: one call per view.
    """
    from fwjr.store import evidence

    found = statuses(evidence.site_counts(store, start, end, filters), limits)
    rank = {BAN: 0, DEGRADED: 1, OK: 2, TOO_FEW: 3}
    return sorted(found.values(), key=lambda s: (rank[s.status], -s.jobs, s.site))
