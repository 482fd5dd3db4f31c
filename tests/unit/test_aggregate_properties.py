"""The determinism contract of docs/architecture.md, as properties: order, duplication,
partitioning and re-grouping over time never change the aggregate rows."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fwjr.aggregate import MICRO, Aggregator, aggregate_jobs, error_dicts, present, regroup, row_dicts
from fwjr.bucket import bucket_start
from fwjr.metrics import METRIC_NAMES
from fwjr.model import Job, StepError

START = 1709164800  # 2024-02-29T00:00:00Z: the window spans a leap day, a month end and a week start
SPAN = 40 * 86400

PROPERTY_SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])

metric_values = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)
step_errors = st.lists(
    st.builds(StepError, st.sampled_from(["cmsRun1", "stageOut1", "logArch1"]), st.sampled_from([8001, 50660, 60324, -1]),
              st.just("Fatal"), st.just(""), st.sampled_from(["", "a1b2c3d4e5f6"])),
    max_size=3,
)


@st.composite
def jobs(draw: st.DrawFn, identity: str) -> Job:
    metrics = draw(st.dictionaries(st.sampled_from(METRIC_NAMES), metric_values, max_size=8))
    errors = draw(step_errors)
    efficiency = draw(st.one_of(st.none(), st.floats(min_value=0, max_value=2)))
    return Job(
        identity=identity,
        ts=draw(st.integers(min_value=START - 86400, max_value=START + SPAN)),
        workflow=draw(st.sampled_from(["wfA", "wfB"])),
        task=draw(st.sampled_from(["Production", "Merge"])),
        site=draw(st.sampled_from(["T1_US_FNAL", "T2_CH_CERN", ""])),
        host="agent1",
        jobtype=draw(st.sampled_from(["Processing", "Merge"])),
        jobstate="jobfailed" if errors else "success",
        exit_code=errors[0].exit_code if errors else 0,
        exit_step=errors[0].step if errors else "",
        acquisition_era=draw(st.sampled_from(["Run2024A", ""])),
        campaign="",
        wn_name="",
        fwjr_id="",
        agent_ver="",
        retry_count=draw(st.integers(min_value=0, max_value=3)),
        failed=bool(errors),
        metrics=metrics,
        cpu_efficiency=efficiency,
        efficiency_outlier=efficiency is not None and efficiency > 1.0,
        errors=errors,
        log_archive="",
    )


@st.composite
def job_sets(draw: st.DrawFn) -> list[Job]:
    count = draw(st.integers(min_value=0, max_value=40))
    return [draw(jobs(f"id-{i}")) for i in range(count)]


def _rows(aggregator: Aggregator) -> tuple[list[dict], list[dict]]:
    return row_dicts(aggregator.rows), error_dicts(aggregator.errors)


@PROPERTY_SETTINGS
@given(unique=job_sets(), seed=st.integers(0, 2**32 - 1), precision=st.sampled_from(["minute", "hour", "day", "week", "month"]))
def test_shuffled_and_duplicated_input_gives_the_same_rows(unique: list[Job], seed: int, precision: str) -> None:
    rng = random.Random(seed)
    noisy = unique + [rng.choice(unique) for _ in range(len(unique) // 2)] if unique else []
    rng.shuffle(noisy)
    expected = aggregate_jobs(unique, precision)
    got = aggregate_jobs(noisy, precision)
    assert _rows(got) == _rows(expected)
    assert got.jobs == len(unique)
    assert got.duplicates == len(noisy) - len(unique)


@PROPERTY_SETTINGS
@given(unique=job_sets(), fine_coarse=st.sampled_from(
    [("hour", "day"), ("minute", "hour"), ("minute", "day"), ("day", "month"), ("hour", "week"), ("day", "week")]))
def test_regrouping_fine_rows_equals_aggregating_coarse(unique: list[Job], fine_coarse: tuple[str, str]) -> None:
    fine, coarse = fine_coarse
    fine_rows = row_dicts(aggregate_jobs(unique, fine).rows)
    assert regroup(fine_rows, coarse) == row_dicts(aggregate_jobs(unique, coarse).rows)


@PROPERTY_SETTINGS
@given(unique=job_sets(), parts=st.integers(min_value=1, max_value=5), seed=st.integers(0, 2**32 - 1))
def test_partial_aggregators_absorbed_equal_one_aggregator(unique: list[Job], parts: int, seed: int) -> None:
    rng = random.Random(seed)
    shared: set[str] = set()
    partials = [Aggregator("hour", seen=shared) for _ in range(parts)]
    # duplicates may land in any partition: the shared identity set still counts each once
    for job in unique + unique[: len(unique) // 3]:
        rng.choice(partials).add(job)
    total = Aggregator("hour")
    for partial in partials:
        total.absorb(partial)
    expected = aggregate_jobs(unique, "hour")
    assert _rows(total) == _rows(expected)
    assert total.jobs == expected.jobs == len(unique)


@PROPERTY_SETTINGS
@given(unique=job_sets())
def test_draining_in_pieces_and_summing_equals_one_pass(unique: list[Job]) -> None:
    aggregator = Aggregator("day")
    drained: list[dict] = []
    for index, job in enumerate(unique):
        aggregator.add(job)
        if index % 7 == 6:
            drained.extend(row_dicts(aggregator.drain()[0]))
    drained.extend(row_dicts(aggregator.rows))
    assert regroup(drained, "day") == row_dicts(aggregate_jobs(unique, "day").rows)


def _job(identity: str, ts: int, failed: bool, metrics: dict[str, float], errors: list[StepError] | None = None) -> Job:
    errors = errors or []
    return Job(
        identity=identity, ts=ts, workflow="wf", task="t", site="T2_CH_CERN", host="h", jobtype="Processing",
        jobstate="jobfailed" if failed else "success", exit_code=errors[0].exit_code if errors else 0,
        exit_step=errors[0].step if errors else "", acquisition_era="", campaign="", wn_name="", fwjr_id="",
        agent_ver="", retry_count=0, failed=failed, metrics=metrics, cpu_efficiency=None, efficiency_outlier=False,
        errors=errors, log_archive="",
    )


def test_rows_hold_sums_and_counts_for_exact_ratios() -> None:
    a = _job("a", START + 10, False, {"core_hours": 2.0, "cpu_hours": 1.5, "TotalJobCPU": 5400.0})
    b = _job("b", START + 20, False, {"core_hours": 1.0, "cpu_hours": 0.25})
    aggregator = aggregate_jobs([a, b], "hour")
    [row] = row_dicts(aggregator.rows)
    assert row["bucket"] == START
    assert (row["jobs"], row["failed"]) == (2, 0)
    assert row["core_hours_sum"] == 3 * MICRO and row["core_hours_count"] == 2
    assert row["TotalJobCPU_sum"] == 5400 * MICRO and row["TotalJobCPU_count"] == 1
    # efficiency over many jobs is a ratio of sums: 1.75 / 3, not the mean of 0.75 and 0.25
    assert row["cpu_hours_sum"] / row["core_hours_sum"] == pytest.approx(1.75 / 3)


def test_error_rows_count_each_key_once_per_job() -> None:
    errors = [StepError("cmsRun1", 8001, "Fatal", "", "sig1"), StepError("cmsRun1", 8001, "CMSException", "", "sig1"),
              StepError("stageOut1", 60324, "StageOut", "", "sig2")]
    aggregator = aggregate_jobs([_job("a", START, True, {}, errors), _job("b", START + 59, True, {}, errors[:1])], "minute")
    assert error_dicts(aggregator.errors) == [
        {"bucket": START, "workflow": "wf", "task": "t", "step": "cmsRun1", "site": "T2_CH_CERN", "exit_code": 8001,
         "retry_count": 0, "signature": "sig1", "count": 2},
        {"bucket": START, "workflow": "wf", "task": "t", "step": "stageOut1", "site": "T2_CH_CERN", "exit_code": 60324,
         "retry_count": 0, "signature": "sig2", "count": 1},
    ]


def test_present_shows_iso_buckets_and_only_metrics_with_values() -> None:
    aggregator = aggregate_jobs([_job("a", START + 3600 * 5 + 7, True, {"wall_time": 12.5, "core_hours": 0.5})], "day")
    [row] = [present(r, "day") for r in row_dicts(aggregator.rows)]
    assert row["bucket"] == "2024-02-29T00:00:00Z"
    assert row["precision"] == "day"
    assert (row["jobs"], row["failed"], row["eff_outliers"]) == (1, 1, 0)
    assert row["wall_time_sum"] == 12.5 and row["wall_time_count"] == 1
    assert "TotalJobCPU_sum" not in row and "TotalJobCPU_count" not in row


def test_micro_unit_sums_do_not_depend_on_float_order() -> None:
    values = [0.1, 0.2, 0.3, 1e-7, 123456.789]
    forward = aggregate_jobs([_job(f"j{i}", START, False, {"wall_time": v}) for i, v in enumerate(values)], "day")
    backward = aggregate_jobs([_job(f"j{i}", START, False, {"wall_time": v}) for i, v in reversed(list(enumerate(values)))], "day")
    assert forward.rows == backward.rows


def test_regroup_rejects_unknown_precision() -> None:
    with pytest.raises(ValueError, match="decade"):
        regroup([], "decade")
    assert bucket_start(START, "month") == START - 28 * 86400
