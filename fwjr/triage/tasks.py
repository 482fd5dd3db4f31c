"""Per task of a workflow: how its jobs ran, and how long reprocessing some of them would take.

The aggregate rows hold sums only, so the wall time per job (median, 90th percentile) comes
from the per-job rows (`jobs`, kept `jobs_days`, 14 days by default): a window reaching further
back counts only the jobs still kept. All the task's figures come from those rows, so they
agree with each other: jobs, failures, core-hours, CPU efficiency (CPU time over core time,
summed over the jobs that report it) and the wall-time quantiles, each job once. The quantiles
are exact, interpolated between the two nearest jobs (numpy's default): the median of 100 s and
200 s is 150 s.

The reprocessing estimate is the task's own history: N jobs on S slots run in ceil(N / S)
waves of one median job each. The median is that of the task's succeeded jobs (a failed job
often stops early), or of all its jobs when none succeeded; the answer says which.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from fwjr.store.connection import Store

_SQL = (
    "SELECT task, count() AS n, sum(failed), sum(core_hours), "
    "sumIf(core_hours * cpu_efficiency, cpu_efficiency IS NOT NULL), sumIf(core_hours, cpu_efficiency IS NOT NULL), "
    "quantileExactInclusive(0.5)(wall_time), quantileExactInclusive(0.9)(wall_time), "
    "quantileExactInclusiveIf(0.5)(wall_time, failed = 0), countIf(failed = 0) "
    "FROM (SELECT task, failed, core_hours, cpu_efficiency, wall_time FROM jobs "
    "WHERE ts >= toDateTime({start:Int64}, 'UTC') AND ts < toDateTime({end:Int64}, 'UTC') AND workflow = {workflow:String} "
    "LIMIT 1 BY identity) GROUP BY task ORDER BY n DESC, task"
)


@dataclass(frozen=True)
class TaskStats:
    """One task's jobs over the window, from the per-job rows."""

    task: str
    jobs: int
    failed: int
    core_hours: float
    cpu_efficiency: float | None
    wall_median: float
    wall_p90: float
    succeeded: int
    succeeded_wall_median: float | None

    @property
    def failure_rate(self) -> float:
        return self.failed / self.jobs if self.jobs else 0.0

    def estimate(self, jobs: int, slots: int) -> "Estimate":
        """How long `jobs` jobs of this task take on `slots` slots, from this task's median job."""
        return estimate(self, jobs, slots)


@dataclass(frozen=True)
class Estimate:
    jobs: int
    slots: int
    waves: int
    per_job: float  # seconds: the median wall time used
    seconds: float
    basis: str  # "succeeded jobs" or "all jobs"


def task_stats(store: Store, start: int, end: int, workflow: str) -> list[TaskStats]:
    """The workflow's tasks over [start, end), most jobs first."""
    rows = store.rows(_SQL, {"start": int(start), "end": int(end), "workflow": workflow})
    return [_stats(row) for row in rows]


def _stats(row: tuple[Any, ...]) -> TaskStats:
    task, jobs, failed, core, cpu_core, reported_core, median, p90, ok_median, succeeded = row
    return TaskStats(
        task=task, jobs=int(jobs), failed=int(failed), core_hours=float(core),
        cpu_efficiency=float(cpu_core) / float(reported_core) if reported_core else None,
        wall_median=float(median), wall_p90=float(p90), succeeded=int(succeeded),
        succeeded_wall_median=float(ok_median) if succeeded else None,
    )


def estimate(stats: TaskStats, jobs: int, slots: int) -> Estimate:
    """ceil(jobs / slots) waves of the task's median job; ValueError for counts below 1."""
    if jobs < 1:
        raise ValueError(f"jobs={jobs}: expected at least 1 job to reprocess")
    if slots < 1:
        raise ValueError(f"slots={slots}: expected at least 1 slot")
    waves = math.ceil(jobs / slots)
    if stats.succeeded_wall_median is not None:
        per_job, basis = stats.succeeded_wall_median, "succeeded jobs"
    else:
        per_job, basis = stats.wall_median, "all jobs"
    return Estimate(jobs, slots, waves, per_job, waves * per_job, basis)
