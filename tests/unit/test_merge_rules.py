"""One test per merge rule of docs/merge.md, on small hand-built documents."""

from __future__ import annotations

import math

import pytest

from fwjr.errors import RejectedDocument
from fwjr.merge import merge_document, split_task
from fwjr.metrics import BY_NAME, DERIVED, METRICS
from fwjr.values import as_float, as_int, as_metric, as_str, unwrap
from tests.fixtures.paths import REPO

TS = 1700000000


def step(name: str, start: float | None = None, stop: float | None = None, **fields) -> dict:
    """A step in the archive format; performance groups go in as keyword `performance`."""
    body = {"name": name, "start": start, "stop": stop, "errors": [], "output": [], "site": "T2_CH_CERN"}
    body.update(fields)
    return body


def doc(*steps: dict, jobstate: str | None = "success", task: str = "/wf/task", **extra) -> dict:
    meta = {"ts": TS, "host": "h", "fwjr_id": "1-0", "jobtype": "Processing", "agent_ver": "1"}
    if jobstate is not None:
        meta["jobstate"] = jobstate
    body = {"task": task, "meta_data": meta, "steps": list(steps)}
    body.update(extra)
    return body


def perf(group: str, **values) -> dict:
    return {"performance": {group: values}}


# --- combine rules -----------------------------------------------------------


def test_rule_table_classifies_by_name() -> None:
    assert BY_NAME["TotalJobCPU"].rule == "sum"
    assert BY_NAME["readTotalMB"].rule == "sum"
    assert BY_NAME["writeTotalSecs"].rule == "sum"
    assert BY_NAME["PeakValueRss"].rule == "max"
    assert BY_NAME["MinEventTime"].rule == "min"
    assert BY_NAME["readMBSec"].rule == "wavg"
    assert BY_NAME["AvgEventCPU"].rule == "wavg"


def test_totals_sum_over_steps() -> None:
    job = merge_document(doc(
        step("a", 0, 10, **perf("cpu", TotalJobCPU=5.0)),
        step("b", 10, 20, **perf("cpu", TotalJobCPU=7.5)),
        step("c", 20, 30, **perf("storage", readTotalMB=1.5, writeTotalSecs=2)),
        step("d", 30, 40, **perf("storage", readTotalMB=2.5)),
    ))
    assert job.metrics["TotalJobCPU"] == 12.5
    assert job.metrics["readTotalMB"] == 4.0
    assert job.metrics["writeTotalSecs"] == 2.0


def test_peaks_take_the_max_and_minima_the_min() -> None:
    job = merge_document(doc(
        step("a", 0, 10, performance={"memory": {"PeakValueRss": 100.0}, "cpu": {"MinEventTime": 3.0}}),
        step("b", 10, 20, performance={"memory": {"PeakValueRss": 900.0}, "cpu": {"MinEventTime": 0.5}}),
        step("c", 20, 30, performance={"memory": {"PeakValueRss": 300.0}, "cpu": {"MinEventTime": 2.0}}),
    ))
    assert job.metrics["PeakValueRss"] == 900.0
    assert job.metrics["MinEventTime"] == 0.5


def test_zero_is_a_value_for_max_and_min() -> None:
    job = merge_document(doc(step("a", 0, 10, performance={"memory": {"PeakValueRss": 0.0}, "cpu": {"MinEventCPU": 0}})))
    assert job.metrics["PeakValueRss"] == 0.0
    assert job.metrics["MinEventCPU"] == 0.0


def test_averages_are_weighted_by_step_time() -> None:
    # 100 s at 10 MB/s and 300 s at 2 MB/s: (100*10 + 300*2) / 400 = 4, not the plain mean 6.
    job = merge_document(doc(
        step("a", 1000, 1100, **perf("storage", readMBSec=10.0)),
        step("b", 1100, 1400, **perf("storage", readMBSec=2.0)),
    ))
    assert job.metrics["readMBSec"] == pytest.approx(4.0)


def test_average_weight_falls_back_to_cmsrun_time_then_one() -> None:
    # No start/stop: weights are TotalJobTime 30 and 10 -> (30*1 + 10*5) / 40 = 2.
    job = merge_document(doc(
        step("a", **perf("cpu", AvgEventTime=1.0, TotalJobTime=30.0)),
        step("b", **perf("cpu", AvgEventTime=5.0, TotalJobTime=10.0)),
    ))
    assert job.metrics["AvgEventTime"] == pytest.approx(2.0)
    # Neither: every step weighs 1 -> plain mean.
    job = merge_document(doc(step("a", **perf("cpu", AvgEventCPU=1.0)), step("b", **perf("cpu", AvgEventCPU=3.0))))
    assert job.metrics["AvgEventCPU"] == pytest.approx(2.0)


def test_a_step_without_the_average_does_not_dilute_it() -> None:
    job = merge_document(doc(
        step("a", 0, 100, **perf("storage", readMBSec=8.0)),
        step("b", 100, 1000, **perf("storage", readTotalMB=1.0)),
    ))
    assert job.metrics["readMBSec"] == 8.0


@pytest.mark.parametrize(
    "missing",
    [-1, -1.0, -2.0, float("nan"), float("inf"), float("-inf"), "nan", "inf", "-nan", "", None, True, "abc", [], {}],
    ids=repr,
)
def test_no_value_markers_are_skipped_not_counted_as_zero(missing) -> None:
    job = merge_document(doc(
        step("a", 0, 100, performance={"cpu": {"TotalJobCPU": missing, "MinEventTime": missing, "AvgEventTime": missing},
                                       "memory": {"PeakValueRss": missing}}),
        step("b", 100, 200, performance={"cpu": {"TotalJobCPU": 4.0, "MinEventTime": 2.0, "AvgEventTime": 6.0},
                                         "memory": {"PeakValueRss": 10.0}}),
    ))
    assert job.metrics["TotalJobCPU"] == 4.0
    assert job.metrics["MinEventTime"] == 2.0  # a -1 would have won a min
    assert job.metrics["AvgEventTime"] == 6.0  # and diluted the average
    assert job.metrics["PeakValueRss"] == 10.0


@pytest.mark.parametrize("missing", [-1, float("nan"), "", None], ids=repr)
def test_a_metric_no_step_reports_is_absent(missing) -> None:
    job = merge_document(doc(step("a", 0, 10, **perf("cpu", TotalJobCPU=missing))))
    assert "TotalJobCPU" not in job.metrics
    assert "cpu_hours" not in job.metrics
    assert job.cpu_efficiency is None
    job = merge_document(doc(step("a", 0, 10, performance={})))
    assert "TotalJobCPU" not in job.metrics


def test_numbers_written_as_text_are_read() -> None:
    job = merge_document(doc(step("a", "0", "100", performance={"cpu": {"TotalJobCPU": "50.5"}, "memory": {"PeakValueRss": "7"}})))
    assert job.metrics["TotalJobCPU"] == 50.5
    assert job.metrics["PeakValueRss"] == 7.0
    assert job.metrics["wall_time"] == 100.0


def test_cmssw_block_and_flat_groups_count_a_metric_once_per_step() -> None:
    cmssw = {"cmssw": {"Timing": {"TotalJobCPU": 60.0, "NumberOfThreads": 4}, "ApplicationMemory": {"PeakValueRss": 700.0}}}
    flat = {"cpu": {"TotalJobCPU": "60.0", "NumberOfThreads": "4"}, "memory": {"PeakValueRss": "700.0"}}
    job = merge_document(doc(step("cmsRun1", 0, 100, performance={**cmssw, **flat}), step("cmsRun2", 100, 200, performance=flat)))
    assert job.metrics["TotalJobCPU"] == 120.0
    assert job.metrics["PeakValueRss"] == 700.0
    assert job.metrics["NumberOfThreads"] == 4.0


def test_unknown_groups_and_metrics_are_ignored() -> None:
    job = merge_document(doc(step("a", 0, 10, performance={"multicore": {"x": 1}, "cpu": {"Bogus": 3, "TotalJobCPU": 1.0}, "storage": "n/a"})))
    assert job.metrics["TotalJobCPU"] == 1.0
    assert "Bogus" not in job.metrics


# --- derived metrics ---------------------------------------------------------


def test_derived_wall_cores_core_hours_efficiency() -> None:
    job = merge_document(doc(
        step("cmsRun1", 0, 3600, **perf("cpu", TotalJobCPU=7200.0, NumberOfThreads=4)),
        step("stageOut1", 3600, 7200),
    ))
    assert job.metrics["wall_time"] == 7200.0
    assert job.metrics["cores"] == 4.0
    assert job.metrics["core_hours"] == 8.0
    assert job.metrics["cpu_hours"] == 2.0
    assert job.metrics["badput_core_hours"] == 6.0
    assert job.metrics["wasted_core_hours"] == 0.0
    assert job.cpu_efficiency == 0.25
    assert job.efficiency_outlier is False


def test_failed_job_wastes_its_core_hours() -> None:
    job = merge_document(doc(step("a", 0, 1800, **perf("cpu", NumberOfThreads=2)), jobstate="jobfailed"))
    assert job.failed is True
    assert job.metrics["wasted_core_hours"] == 1.0


def test_efficiency_above_one_is_flagged_as_outlier() -> None:
    job = merge_document(doc(step("a", 0, 100, **perf("cpu", TotalJobCPU=150.0))))
    assert job.cpu_efficiency == 1.5
    assert job.efficiency_outlier is True


def test_wall_time_falls_back_to_wmtiming_then_cmsrun_time() -> None:
    job = merge_document(doc(step("a", 100, None, **perf("cpu", TotalJobTime=40.0)), WMTiming={"WMTotalWallClockTime": 55}))
    assert job.metrics["wall_time"] == 55.0
    job = merge_document(doc(step("a", 100, None, **perf("cpu", TotalJobTime=40.0))))
    assert job.metrics["wall_time"] == 40.0
    job = merge_document(doc(step("a", None, None)))
    assert "wall_time" not in job.metrics and "core_hours" not in job.metrics


def test_stop_before_start_is_not_a_duration() -> None:
    job = merge_document(doc(step("a", 100, 50), step("b", 100, 130)))
    assert job.metrics["wall_time"] == 30.0


def test_events_are_summed_over_a_steps_outputs() -> None:
    outputs = [{"events": 10, "acquisitionEra": ""}, {"events": -1}, {"events": "5", "acquisitionEra": "Run2024A"}]
    job = merge_document(doc(step("a", 0, 1, output=outputs)))
    assert job.metrics["events"] == 15.0
    assert job.acquisition_era == "Run2024A"


# --- site, state, errors -----------------------------------------------------


def test_site_is_the_first_non_empty_string() -> None:
    job = merge_document(doc(step("a", site={}), step("b", site=""), step("c", site="T1_DE_KIT"), step("d", site="T2_X")))
    assert job.site == "T1_DE_KIT"


def test_site_empty_object_everywhere_gives_empty_site() -> None:
    job = merge_document(doc(step("a", site={}), step("b", site=None)))
    assert job.site == ""


def test_status_failed_text_does_not_decide_failure() -> None:
    job = merge_document(doc(step("cmsRun1", status="Failed")))
    assert (job.failed, job.exit_code) == (False, 0)


def test_without_jobstate_an_error_means_failed() -> None:
    failing = step("cmsRun1", status="Failed", errors=[{"type": "Fatal", "exitCode": 8001, "details": "x"}])
    job = merge_document(doc(failing, jobstate=None))
    assert job.failed is True
    assert job.jobstate == ""
    job = merge_document(doc(step("cmsRun1"), jobstate=None))
    assert job.failed is False


@pytest.mark.parametrize("code, expected", [("8001", 8001), (8001, 8001), ("8001.0", 8001), ({"$numberLong": "50660"}, 50660)])
def test_exit_codes_as_strings_numbers_and_wrappers(code, expected) -> None:
    job = merge_document(doc(step("cmsRun1", errors=[{"type": "Fatal", "exitCode": code, "details": ""}]), jobstate="jobfailed"))
    assert job.exit_code == expected
    assert job.exit_step == "cmsRun1"


def test_numeric_error_type_stands_in_for_an_unreadable_exit_code() -> None:
    job = merge_document(doc(step("cmsRun1", errors=[{"type": "99997", "exitCode": None}])))
    assert job.exit_code == 99997
    job = merge_document(doc(step("cmsRun1", errors=[{"type": "Weird", "exitCode": "n/a"}])))
    assert job.exit_code == -1
    assert job.exit_step == "cmsRun1"


def test_first_error_in_document_order_wins() -> None:
    job = merge_document(doc(
        step("stageOut1", errors=[{"type": "StageOut", "exitCode": 60324, "details": ""}]),
        step("logArch1"),
        step("cmsRun1", errors=[{"type": "Fatal", "exitCode": 8001}, {"type": "CMSException", "exitCode": 8028}]),
        jobstate="jobfailed",
    ))
    assert (job.exit_code, job.exit_step) == (60324, "stageOut1")
    assert [(e.step, e.exit_code) for e in job.errors] == [("stageOut1", 60324), ("cmsRun1", 8001), ("cmsRun1", 8028)]


def test_errors_as_one_object_and_empty_object() -> None:
    job = merge_document(doc(step("a", errors={}), step("b", errors={"type": "X", "exitCode": 11})))
    assert (job.exit_code, job.exit_step) == (11, "b")


def test_no_error_gives_zero_and_empty_step() -> None:
    job = merge_document(doc(step("a"), step("b", errors=None)))
    assert (job.exit_code, job.exit_step, job.errors) == (0, "", [])


def test_long_error_details_keep_head_and_tail_around_a_marked_cut() -> None:
    text = "head " + "y" * 40000 + " tail"
    job = merge_document(doc(step("a", errors=[{"type": "X", "exitCode": 1, "details": text}])))
    kept = job.errors[0].details
    assert kept.startswith("head yyy") and kept.endswith("yyy tail")
    assert f"[... {len(text) - 16384} characters cut ...]" in kept
    assert len(kept) == 16384 + len(f"\n[... {len(text) - 16384} characters cut ...]\n")


def test_error_details_up_to_the_limit_are_kept_whole() -> None:
    text = "z" * 16384
    job = merge_document(doc(step("a", errors=[{"type": "X", "exitCode": 1, "details": text}])))
    assert job.errors[0].details == text


# --- document shapes -----------------------------------------------------------


def test_steps_as_a_dict_keyed_by_name_keep_document_order() -> None:
    body = doc()
    body["steps"] = {
        "stageOut1": {"start": 10, "stop": 20, "site": "T2_A", "errors": [{"type": "S", "exitCode": 60311}]},
        "cmsRun1": {"start": 0, "stop": 10, "site": "T2_B", "errors": [{"type": "F", "exitCode": 8001}],
                    "performance": {"cpu": {"TotalJobCPU": 9.0}}},
    }
    job = merge_document(body)
    assert (job.site, job.exit_code, job.exit_step) == ("T2_A", 60311, "stageOut1")
    assert job.metrics["wall_time"] == 20.0
    assert job.metrics["TotalJobCPU"] == 9.0


def test_steps_as_a_list_of_names_refer_to_top_level_objects() -> None:
    body = {"task": "/w/t", "steps": ["cmsRun1"], "cmsRun1": {"startTime": 5.0, "stopTime": 105.0, "site": {}},
            "siteName": "T2_CH_CERN"}
    job = merge_document(body)
    assert job.ts == 105
    assert job.site == "T2_CH_CERN"
    assert job.metrics["wall_time"] == 100.0


def test_mongo_number_wrappers() -> None:
    body = doc(step("a", {"$numberLong": "100"}, {"$numberLong": "250"},
                    performance={"cpu": {"TotalJobCPU": {"$numberDouble": "75.5"}}, "storage": {"readNumOps": {"$numberInt": "3"}}}))
    body["meta_data"]["ts"] = {"$numberLong": str(TS)}
    job = merge_document(body)
    assert job.ts == TS
    assert job.metrics["wall_time"] == 150.0
    assert job.metrics["TotalJobCPU"] == 75.5
    assert job.metrics["readNumOps"] == 3.0


def test_millisecond_timestamps_become_seconds() -> None:
    body = doc(step("a"))
    body["meta_data"]["ts"] = TS * 1000 + 999
    assert merge_document(body).ts == TS


def test_data_envelope_with_one_report() -> None:
    job = merge_document({"data": [doc(step("a", 0, 5))]})
    assert job.ts == TS


@pytest.mark.parametrize(
    "body, field",
    [
        ([], "<document>"),
        ({"data": [{}, {}]}, "data"),
        (doc(step("a")) | {"steps": 5}, "steps"),
        (doc(step("a")) | {"steps": [5]}, "steps[0]"),
        (doc(step("a")) | {"meta_data": {"ts": -5}}, "meta_data.ts"),
        (doc(step("a")) | {"meta_data": {"ts": "soon"}}, "meta_data.ts"),
        ({"task": "/w/t", "steps": [{"name": "a"}]}, "meta_data.ts"),
    ],
    ids=["list", "envelope-of-two", "steps-number", "step-number", "negative-ts", "text-ts", "no-time-at-all"],
)
def test_unusable_documents_are_rejected_with_the_field(body, field) -> None:
    with pytest.raises(RejectedDocument) as caught:
        merge_document(body, "src:1")
    rejection = caught.value.rejection
    assert rejection.field == field
    assert rejection.reason
    assert rejection.source == "src:1"


def test_identity_is_wmaid_else_a_content_hash() -> None:
    assert merge_document(doc(step("a"), wmaid="abc")).identity == "abc"
    first = merge_document(doc(step("a", 1, 2)))
    again = merge_document(doc(step("a", 1, 2)))
    other = merge_document(doc(step("a", 1, 3)))
    assert first.identity == again.identity != other.identity
    assert first.identity.startswith("h:")


# --- task names ----------------------------------------------------------------


@pytest.mark.parametrize(
    "task, expected",
    [
        ("/wf/Production/ProductionMerge", ("wf", "ProductionMerge")),
        ("/wf", ("wf", "wf")),
        ("wf//a/", ("wf", "a")),
        ("///", ("", "")),
        ("", ("", "")),
        ("230101_120000:user_crab_task", ("230101_120000:user_crab_task", "user_crab_task")),
        ("230101_120000:user:with:colons", ("230101_120000:user:with:colons", "user:with:colons")),
    ],
)
def test_split_task(task: str, expected: tuple[str, str]) -> None:
    assert split_task(task) == expected


def test_crab_task_in_a_document() -> None:
    job = merge_document(doc(step("a"), task="240501_101010:jdoe_crab_Analysis"))
    assert (job.workflow, job.task) == ("240501_101010:jdoe_crab_Analysis", "jdoe_crab_Analysis")


# --- value coercion -------------------------------------------------------------


def test_value_coercion() -> None:
    assert unwrap({"$numberLong": "7"}) == "7"
    assert unwrap({"a": 1}) == {"a": 1}
    assert as_float("1e3") == 1000.0
    assert as_float(True) is None
    assert as_float(float("nan")) is None
    assert as_float("inf") is None
    assert as_float(2**80) == float(2**80)
    assert as_metric(-0.5) is None
    assert as_metric(0) == 0.0
    assert as_int("12") == 12
    assert as_int("12.5") is None
    assert as_int(None) is None
    assert as_str(None) == as_str({}) == ""
    assert as_str(42) == "42"
    assert math.isfinite(as_float(1e308))


# --- absurd values ----------------------------------------------------------------


def test_absurd_metric_values_are_corrupt_not_measurements() -> None:
    job = merge_document(doc(
        step("a", 0, 1e308, performance={"cpu": {"TotalJobCPU": 1e308, "NumberOfThreads": 2**80}}),
        step("b", 10, 20, performance={"cpu": {"TotalJobCPU": 3.0}}),
    ))
    assert job.metrics["TotalJobCPU"] == 3.0
    assert job.metrics["wall_time"] == 10.0
    assert job.metrics["cores"] == 1.0


def test_exit_codes_outside_int32_are_unreadable() -> None:
    job = merge_document(doc(step("a", errors=[{"type": "X", "exitCode": 2**80}])))
    assert (job.exit_code, job.exit_step) == (-1, "a")
    job = merge_document(doc(step("a", errors=[{"type": "50660", "exitCode": "1e300"}])))
    assert job.exit_code == 50660


@pytest.mark.parametrize("ts", [1e308, 2**80, 10**15 * 1000])
def test_timestamps_beyond_year_9999_are_rejected(ts) -> None:
    body = doc(step("a"))
    body["meta_data"]["ts"] = ts
    with pytest.raises(RejectedDocument, match="9999"):
        merge_document(body)
    with pytest.raises(RejectedDocument, match="plausible"):
        merge_document({"task": "/w/t", "steps": [{"name": "a", "stop": ts}]})


# --- docs/merge.md matches the rule table ------------------------------------------


def _doc_rows() -> dict[str, list[str]]:
    """`| `name` | ... |` rows of docs/merge.md's metric tables, by metric name."""
    text = (REPO / "docs" / "merge.md").read_text()
    rows: dict[str, list[str]] = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| `") and cells[0].strip("`") in BY_NAME:
            name = cells[0].strip("`")
            assert name not in rows, f"docs/merge.md lists {name} twice"
            rows[name] = cells[1:]
    return rows


def test_docs_merge_md_lists_every_metric_with_its_rule() -> None:
    rows = _doc_rows()
    assert sorted(rows) == sorted(BY_NAME)
    for metric in METRICS:
        assert rows[metric.name][:4] == [metric.group, metric.rule, metric.unit, metric.title], metric.name
    for metric in DERIVED:
        assert rows[metric.name][:3] == [metric.rule, metric.unit, metric.title], metric.name
