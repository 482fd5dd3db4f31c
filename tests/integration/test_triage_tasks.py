"""Per-task figures of the workflow page from a real store's job rows, and the reprocessing estimate."""

from __future__ import annotations

import time

import pytest

from fwjr.model import Job
from fwjr.store import schema
from fwjr.store.connection import Store
from fwjr.triage.tasks import TaskStats, estimate, task_stats
from streams.sink import job_row
from tests.fixtures.store import empty, store  # noqa: F401 (fixtures)

NOW = int(time.time()) // 60 * 60


def _job(n: int, task: str, wall: float, failed: bool = False, efficiency: float | None = 0.5, workflow: str = "wf-a") -> Job:
    return Job(
        identity=f"{task}-{n}", ts=NOW - 600 + n, workflow=workflow, task=task, site="T2_CH_CERN", host="h", jobtype="Processing",
        jobstate="jobfailed" if failed else "success", exit_code=50660 if failed else 0, exit_step="cmsRun1" if failed else "",
        acquisition_era="", campaign="", wn_name="wn", fwjr_id=f"fwjr-{task}-{n}", agent_ver="1", retry_count=0, failed=failed,
        metrics={"wall_time": wall, "core_hours": wall * 4 / 3600, "cores": 4.0}, cpu_efficiency=efficiency, efficiency_outlier=False,
        errors=[], log_archive="",
    )


def _write(store: Store, jobs: list[Job]) -> None:
    store.insert("jobs", schema.JOB_COLUMNS, [job_row(job, "test", -1, -1) for job in jobs])


def test_each_task_reads_its_jobs_once_with_wall_time_quantiles(empty: Store) -> None:  # noqa: F811 (fixture)
    walls = [100.0 * n for n in range(1, 11)]  # 100 .. 1000 s
    jobs = [_job(n, "/wf-a/Reco", wall, failed=n > 8) for n, wall in enumerate(walls, 1)]
    jobs += [_job(1, "/wf-a/Merge", 50.0, efficiency=None), _job(5, "/wf-b/Reco", 9999.0, workflow="wf-b")]
    _write(empty, jobs + jobs[:3])  # the same reports delivered twice count once
    reco, merge = task_stats(empty, NOW - 3600, NOW + 60, "wf-a")
    assert (reco.task, reco.jobs, reco.failed, reco.succeeded) == ("/wf-a/Reco", 10, 2, 8)
    assert reco.failure_rate == pytest.approx(0.2)
    assert reco.core_hours == pytest.approx(sum(walls) * 4 / 3600)
    assert reco.cpu_efficiency == pytest.approx(0.5)
    assert (reco.wall_median, reco.wall_p90) == (550.0, 910.0), "interpolated between the nearest jobs"
    assert reco.succeeded_wall_median == 450.0, "median of the eight succeeded jobs, 100 .. 800 s"
    assert (merge.jobs, merge.cpu_efficiency) == (1, None), "no job of the task reports its CPU efficiency"
    assert task_stats(empty, NOW + 60, NOW + 120, "wf-a") == []


def test_the_estimate_is_waves_of_the_median_job() -> None:
    stats = TaskStats("/wf/Task", 10, 2, 1.0, 0.5, wall_median=500.0, wall_p90=900.0, succeeded=8, succeeded_wall_median=400.0)
    guess = estimate(stats, 250, 40)
    assert (guess.waves, guess.per_job, guess.seconds, guess.basis) == (7, 400.0, 2800.0, "succeeded jobs")
    assert estimate(stats, 40, 40).waves == 1
    none_succeeded = TaskStats("/wf/Task", 3, 3, 1.0, None, 120.0, 300.0, 0, None)
    assert (estimate(none_succeeded, 5, 2).seconds, estimate(none_succeeded, 5, 2).basis) == (360.0, "all jobs")
    with pytest.raises(ValueError, match="slots=0"):
        estimate(stats, 10, 0)
    with pytest.raises(ValueError, match="jobs=-3"):
        estimate(stats, -3, 5)
