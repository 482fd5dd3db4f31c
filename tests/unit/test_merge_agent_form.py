"""The agent's CouchDB form, pseudo-steps, the first real error, retries and non-reports.

Hand-built documents in the shapes WMAgent writes (docs/merge.md, "The agent's envelope"
and "The first real error"); each test varies one thing, so a rule that only fits the
reference files fails here.
"""

from __future__ import annotations

import pytest

from fwjr.errors import RejectedDocument
from fwjr.merge import archive_form, merge_document
from fwjr.signature import signature

TS = 1700000000


def error(code: int | str, kind: str, details: str = "") -> dict:
    return {"exitCode": code, "type": kind, "details": details}


def step(site: object = "T2_CH_CERN", start: int | None = TS - 100, stop: int | None = TS - 10, *errors: dict) -> dict:
    return {"status": 1 if errors else 0, "site": site, "start": start, "stop": stop, "errors": list(errors),
            "output": {}, "performance": {}}


def envelope(steps: dict, **fields: object) -> dict:
    body: dict = {"_id": "77-0", "_rev": "1-x", "jobid": 77, "timestamp": TS, "jobstate": "jobfailed",
                  "jobtype": "Processing", "retrycount": 2, "archivestatus": "ready", "type": "fwjr",
                  "fwjr": {"task": "/wf_a/TaskB", "steps": steps}}
    body.update(fields)
    return body


def test_envelope_fields_fill_the_job() -> None:
    job = merge_document(envelope({"cmsRun1": step()}))
    assert (job.ts, job.jobstate, job.jobtype, job.fwjr_id, job.retry_count) == (TS, "jobfailed", "Processing", "77-0", 2)
    assert (job.workflow, job.task, job.failed) == ("wf_a", "TaskB", True)


@pytest.mark.parametrize("id_key", ["_id", "id", "uid"])
@pytest.mark.parametrize("time_key", ["timestamp", "time_stamp"])
def test_older_spellings_of_the_envelope(id_key: str, time_key: str) -> None:
    doc = envelope({"cmsRun1": step(start=None, stop=None)})
    del doc["_id"], doc["timestamp"]
    doc[id_key] = "5-1"
    doc[time_key] = TS + 7
    job = merge_document(doc)
    assert (job.fwjr_id, job.ts) == ("5-1", TS + 7)


def test_meta_data_wins_over_the_envelope() -> None:
    doc = envelope({"cmsRun1": step()})
    doc["fwjr"]["meta_data"] = {"ts": TS + 1, "jobstate": "success", "jobtype": "Merge", "fwjr_id": "9-9"}
    job = merge_document(doc)
    assert (job.ts, job.jobstate, job.jobtype, job.fwjr_id, job.retry_count) == (TS + 1, "success", "Merge", "9-9", 2)


def test_without_any_time_the_last_step_stop_is_used_then_rejected() -> None:
    doc = envelope({"cmsRun1": step(stop=TS - 3)})
    del doc["timestamp"]
    assert merge_document(doc).ts == TS - 3
    doc["fwjr"]["steps"]["cmsRun1"]["stop"] = None
    with pytest.raises(RejectedDocument, match="no time"):
        merge_document(doc)


@pytest.mark.parametrize("pseudo", ["JobKilled", "NoJobReport", "PerformanceError", "SomeFutureAgentStep"])
def test_pseudo_steps_count_like_any_step(pseudo: str) -> None:
    doc = envelope({pseudo: {"site": {}, "start": None, "stop": None, "errors": [error(71304, pseudo, "killed")]}})
    job = merge_document(doc)
    assert (job.exit_code, job.exit_step, job.site, job.failed) == (71304, pseudo, "", True)
    assert [(e.step, e.exit_code, e.type) for e in job.errors] == [(pseudo, 71304, pseudo)]


def test_failed_without_any_error_is_failed_with_no_exit_code() -> None:
    job = merge_document(envelope({"cmsRun1": step(), "logArch1": step()}))
    assert (job.failed, job.exit_code, job.exit_step, job.errors) == (True, 0, "", [])
    assert job.metrics["wasted_core_hours"] > 0


def test_agent_kill_explains_the_errors_of_the_steps_it_cut_short() -> None:
    steps = {
        "cmsRun1": step("T2_CH_CERN", TS - 100, None, error(8001, "CMSException", "cut short")),
        "PerformanceError": {"site": {}, "start": None, "stop": None,
                             "errors": [error(50660, "PerformanceKill", "RSS 4100 MB > 4000 MB")]},
    }
    job = merge_document(envelope(steps))
    assert (job.exit_code, job.exit_step) == (50660, "PerformanceError")
    assert [e.exit_code for e in job.errors] == [8001, 50660]  # every error stays visible


@pytest.mark.parametrize("follow_on", [
    error(99999, "ErrorLoggingAddition", "Adding last ten lines of CMSSW stderr:\n..."),
    error(99999, "ReportManipulatingError", "Could not find report file for step stageOut1!"),
    error(60450, "ReportManipulatingError", "could not find report file"),
])
def test_a_follow_on_error_never_wins_over_the_failure_it_reports(follow_on: dict) -> None:
    steps = {"stageOut1": step("T2_CH_CERN", None, None, follow_on),
             "cmsRun1": step("T2_CH_CERN", TS - 100, TS - 20, error(8021, "FileReadError", "file open failed"))}
    job = merge_document(envelope(steps))
    assert (job.exit_code, job.exit_step) == (8021, "cmsRun1")


def test_a_follow_on_error_alone_is_the_exit_code() -> None:
    steps = {"stageOut1": step("T2_CH_CERN", None, None, error(99999, "ReportManipulatingError", "no report"))}
    assert merge_document(envelope(steps)).exit_code == 99999


def test_among_real_errors_document_order_decides() -> None:
    steps = {"stageOut1": step("T2_CH_CERN", None, None, error(60324, "StageOutFailure", "srm timeout")),
             "cmsRun1": step("T2_CH_CERN", None, None, error(8001, "CMSException", "exception"))}
    job = merge_document(envelope(steps))
    assert (job.exit_code, job.exit_step) == (60324, "stageOut1")


def test_every_error_carries_the_signature_of_its_message() -> None:
    text = "Unable to open /store/mc/A/B/1.root at host t3.cern.ch"
    job = merge_document(envelope({"cmsRun1": step("T2_CH_CERN", None, None, error(8020, "FileOpenError", text))}))
    assert job.errors[0].signature == signature(text) != ""


def test_retry_count_survives_the_archive_form() -> None:
    doc = envelope({"cmsRun1": step("T2_CH_CERN", None, None, error(8001, "CMSException", "x"))})
    assert merge_document(archive_form(doc)) == merge_document(doc)
    assert archive_form(doc)["meta_data"]["retry_count"] == 2


@pytest.mark.parametrize("retries", [None, -1, "x", 2**40])
def test_unreadable_retry_counts_are_zero(retries: object) -> None:
    assert merge_document(envelope({"cmsRun1": step()}, retrycount=retries)).retry_count == 0


@pytest.mark.parametrize("document", [
    {"_id": "agg-1", "type": "aggregate", "site": "T2_CH_CERN", "count": 12},
    {"8001": "CMSSW exception", "8021": "file read error"},
    {"_id": "acdc-1", "type": "acdc", "collection_name": "wf", "files": {}},
    {"_id": "x", "type": "fwjr", "fwjr": {"task": "/wf/t", "steps": {}}},
    {"meta_data": {"ts": TS}, "task": "/wf/t", "steps": []},
])
def test_a_document_that_is_not_a_job_report_says_so(document: dict) -> None:
    with pytest.raises(RejectedDocument, match="not a job report: no steps") as caught:
        merge_document(document, "src.json")
    assert caught.value.rejection.field == "steps"
    if document.get("type") not in (None, "fwjr"):
        assert repr(document["type"]) in caught.value.rejection.reason
