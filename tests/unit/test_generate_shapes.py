"""The generator's report shapes: the agent's envelope, pseudo-steps, failed jobs without an
error, follow-on errors, retries and message variants, each at its configured share."""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict

import pytest

from fwjr.avro_codec import read_avro_file
from fwjr.merge import merge_document
from fwjr.signature import signature
from fwjr.synth import generate_documents, write_archive
from fwjr.synth.catalogue import Catalog
from fwjr.synth.messages import Messages
from fwjr.synth.model import DEFAULT_START_TS, load_model, shapes_from_model

COUNT = 20000
SEED = 23
CLEAN = {"drift_share": 0, "malformed_share": 0, "duplicate_share": 0}
ZERO_SHAPES = {
    "envelope": 0,
    "agent_killed": 0,
    "performance_kill": 0,
    "no_job_report": 0,
    "failed_without_error": 0,
    "log_tail": 0,
    "missing_report": 0,
}
ENVELOPE_KEYS = {"_rev", "jobid", "jobstate", "jobtype", "retrycount", "type", "fwjr"}


def _is_envelope(doc: dict) -> bool:
    return "fwjr" in doc and "steps" not in doc


def _steps(doc: dict) -> dict[str, dict]:
    """Steps by name, in either form."""
    steps = doc["fwjr"]["steps"] if _is_envelope(doc) else doc["steps"]
    return steps if isinstance(steps, dict) else {step["name"]: step for step in steps}


def _jobstate(doc: dict) -> str:
    return doc["jobstate"] if _is_envelope(doc) else doc["meta_data"]["jobstate"]


def _retry(doc: dict) -> int:
    return doc["retrycount"] if _is_envelope(doc) else doc["meta_data"]["retry_count"]


def _errors(doc: dict) -> list[dict]:
    return [error for step in _steps(doc).values() for error in step["errors"]]


def _within(observed: int, trials: int, share: float) -> bool:
    """Whether a count is within four standard deviations of `trials x share`."""
    expected = trials * share
    return abs(observed - expected) <= 4 * math.sqrt(trials * share * (1 - share)) + 1


@pytest.fixture(scope="module")
def stream() -> list[dict]:
    return list(generate_documents(COUNT, SEED, **CLEAN))


@pytest.fixture(scope="module")
def shapes():
    return shapes_from_model()


def _cmsrun_failed(doc: dict) -> bool:
    """A job whose cmsRun step failed on its own (not cut short by the watchdog)."""
    steps = _steps(doc)
    return "PerformanceError" not in steps and any(
        name.startswith("cmsRun") and step["errors"] for name, step in steps.items()
    ) and list(steps) != ["cmsRun1"]  # a lone cmsRun1 with no site: a job that never started


def test_each_shape_appears_with_its_share(stream, shapes) -> None:
    names = Counter()
    for doc in stream:
        steps = _steps(doc)
        if list(steps) in (["JobKilled"], ["NoJobReport"]):
            names[next(iter(steps))] += 1
        if "PerformanceError" in steps:
            names["PerformanceError"] += 1
        if _jobstate(doc) in ("jobfailed", "failed") and not _errors(doc):
            names["failed_without_error"] += 1
        names["envelope"] += _is_envelope(doc)
    assert _within(names["envelope"], COUNT, shapes.envelope), names
    assert _within(names["JobKilled"], COUNT, shapes.agent_killed), names
    assert _within(names["PerformanceError"], COUNT, shapes.performance_kill), names
    assert _within(names["NoJobReport"], COUNT, shapes.no_job_report), names
    assert _within(names["failed_without_error"], COUNT, shapes.failed_without_error), names
    envelopes = [doc for doc in stream if _is_envelope(doc)]
    old = sum("time_stamp" in doc for doc in envelopes)
    assert _within(old, len(envelopes), shapes.envelope_old_spelling)


def test_follow_on_errors_come_with_their_share_of_cmsrun_failures(stream, shapes) -> None:
    failed = [doc for doc in stream if _cmsrun_failed(doc)]
    assert len(failed) > 300
    tails = sum(any(e["type"] == "ErrorLoggingAddition" for e in _errors(doc)) for doc in failed)
    missing = sum(any(e["type"] == "ReportManipulatingError" for e in _errors(doc)) for doc in failed)
    assert _within(tails, len(failed), shapes.log_tail)
    assert _within(missing, len(failed), shapes.missing_report)
    for doc in failed:
        for name, step in _steps(doc).items():
            if any(e["type"] == "ReportManipulatingError" for e in step["errors"]):
                assert name in ("stageOut1", "upload1") and step["start"] is None and step["stop"] is None
                assert [e["exitCode"] for e in step["errors"]] == [99999]
                assert step["errors"][0]["details"] == f"Could not find report file for step {name}!"
        tail = [e for e in _errors(doc) if e["type"] == "ErrorLoggingAddition"]
        if tail:
            assert tail[0]["exitCode"] == 99999 and "lines of CMSSW stdout" in tail[0]["details"]
            cmsrun = [s for n, s in _steps(doc).items() if n.startswith("cmsRun") and s["errors"]]
            assert cmsrun[0]["errors"][0]["type"] != "ErrorLoggingAddition"  # the tail follows the real error


def test_log_tails_are_kilobytes_long_some_much_longer(stream) -> None:
    sizes = [len(e["details"]) for doc in stream for e in _errors(doc) if e["type"] == "ErrorLoggingAddition"]
    assert sorted(sizes)[len(sizes) // 2] >= 2000
    assert max(sizes) >= 8000
    assert all(text.count("\n") >= 10 for text in (e["details"] for d in stream for e in _errors(d) if e["type"] == "ErrorLoggingAddition"))


def test_pseudo_steps_hold_only_the_agents_error(stream) -> None:
    kills = Counter()
    for doc in stream:
        for name, step in _steps(doc).items():
            if name not in ("JobKilled", "NoJobReport", "PerformanceError"):
                continue
            assert step["site"] == {} and step["start"] is None and step["stop"] is None
            assert len(step["errors"]) == 1 and not step["output"] and not step["input"]
            assert all(group == {} for group in step["performance"].values())
            error = step["errors"][0]
            kills[(name, error["type"])] += 1
            if name == "JobKilled":
                assert 71300 <= error["exitCode"] < 71310
            elif name == "NoJobReport":
                assert error["exitCode"] in (99303, 99305)
            else:
                assert error["exitCode"] in (50660, 50661, 50664)
                cut = [s for n, s in _steps(doc).items() if n.startswith("cmsRun") and s["errors"]]
                assert [e["type"] for e in cut[0]["errors"]] == ["ErrorLoggingAddition"]
                assert isinstance(cut[0]["site"], str) and cut[0]["site"]
    assert set(kills) == {("JobKilled", "JobKilled"), ("NoJobReport", "NoJobReport"), ("PerformanceError", "PerformanceKill")}


def test_every_envelope_has_the_agents_fields(stream) -> None:
    envelopes = [doc for doc in stream if _is_envelope(doc)]
    assert envelopes
    for doc in envelopes:
        assert ENVELOPE_KEYS <= set(doc) and doc["type"] == "fwjr"
        ids = [key for key in ("_id", "uid", "id") if key in doc]
        times = [key for key in ("timestamp", "time_stamp") if key in doc]
        assert len(ids) == 1 and len(times) == 1
        assert (ids[0] == "_id") == (times[0] == "timestamp") == ("archivestatus" in doc)
        assert isinstance(doc[times[0]], int) and doc[times[0]] >= DEFAULT_START_TS
        assert doc[ids[0]] == f"{doc['jobid']}-{doc['retrycount']}"
        assert isinstance(doc["retrycount"], int) and doc["_rev"][:2] in ("1-", "2-")
        fwjr = doc["fwjr"]
        assert fwjr["task"].startswith("/") and isinstance(fwjr["steps"], dict) and fwjr["steps"]
        assert all("name" not in step for step in fwjr["steps"].values())
        assert "meta_data" not in fwjr and "LFNArray" not in fwjr and "wmaid" not in doc


def test_the_envelope_carries_the_same_job_as_the_archive_form() -> None:
    archive = list(generate_documents(1500, 7, shapes={"envelope": 0}, **CLEAN))
    agent = list(generate_documents(1500, 7, shapes={"envelope": 1}, **CLEAN))
    assert not any(_is_envelope(d) for d in archive) and all(_is_envelope(d) for d in agent)
    for plain, enveloped in zip(archive, agent):
        a, b = merge_document(plain), merge_document(enveloped)
        same = ("ts", "workflow", "task", "site", "jobtype", "jobstate", "exit_code", "exit_step", "failed",
                "fwjr_id", "retry_count", "campaign", "acquisition_era", "cpu_efficiency")
        assert [getattr(a, f) for f in same] == [getattr(b, f) for f in same]
        assert a.errors == b.errors
        assert a.metrics == pytest.approx(b.metrics)
        if a.jobtype != "LogCollect":  # the archive form's LFNArray also names a LogCollect's input tarballs
            assert a.log_archive == b.log_archive


def test_envelopes_are_written_to_avro_in_archive_form(tmp_path) -> None:
    agent = list(generate_documents(300, 9, shapes={"envelope": 1}, **CLEAN))
    summary = write_archive(iter(agent), tmp_path, "avro")
    assert summary["documents"] == len(agent) and summary["malformed"] == 0
    records = [record for path in sorted(tmp_path.rglob("*.avro")) for record in read_avro_file(path)]
    assert len(records) == len(agent)
    expected = Counter((merge_document(d).fwjr_id, merge_document(d).exit_code, merge_document(d).retry_count) for d in agent)
    got = Counter((merge_document(r).fwjr_id, merge_document(r).exit_code, merge_document(r).retry_count) for r in records)
    assert got == expected
    assert all(isinstance(r["steps"], list) and r["meta_data"]["retry_count"] is not None for r in records)


def test_retries_are_mostly_zero_and_higher_when_the_job_failed(stream, shapes) -> None:
    ok, failed = Counter(), Counter()
    for doc in stream:
        (ok if _jobstate(doc) == "success" else failed)[_retry(doc)] += 1
    assert set(ok) | set(failed) == set(range(shapes.retry_max + 1))
    assert ok[0] >= 0.85 * sum(ok.values())
    mean = lambda counts: sum(k * n for k, n in counts.items()) / sum(counts.values())  # noqa: E731
    assert mean(failed) > 3 * mean(ok)
    for doc in stream:
        if not _is_envelope(doc):
            assert doc["meta_data"]["fwjr_id"].endswith(f"-{doc['meta_data']['retry_count']}")


def test_troubled_workflows_fail_and_retry_more(stream) -> None:
    trouble = {wf.name: wf.trouble for wf in Catalog(SEED, DEFAULT_START_TS).workflows}
    groups: dict[str, list[dict]] = {"low": [], "high": []}
    for doc in stream:
        task = doc["fwjr"]["task"] if _is_envelope(doc) else doc["task"]
        factor = trouble[task.split("/")[1]]
        if factor < 0.7 or factor > 1.5:
            groups["high" if factor > 1.5 else "low"].append(doc)
    failed = {name: sum(_jobstate(d) != "success" for d in docs) / len(docs) for name, docs in groups.items()}
    retried = {name: sum(_retry(d) > 0 for d in docs) / len(docs) for name, docs in groups.items()}
    assert min(len(docs) for docs in groups.values()) > 1000
    assert failed["high"] > 1.5 * failed["low"] and retried["high"] > 1.5 * retried["low"], (failed, retried)


def test_each_exit_code_has_several_messages_that_group_into_few_signatures() -> None:
    model = load_model()
    catalog = Catalog(5, DEFAULT_START_TS)
    messages = Messages(random.Random(3), model["exit_code_text"])
    tables = {cls: t for cls, t in model["exit_codes"].items() if cls not in ("about", "failing_step_share")}
    all_texts = all_signatures = 0
    for code in sorted({int(c) for table in tables.values() for c in table}):
        texts = []
        for index in range(30):
            task = catalog.tasks[index * 11 % len(catalog.tasks)]
            messages.job(task, ("T2_CH_CERN", "T1_US_FNAL_Disk", "T2_US_Nebraska")[index % 3], DEFAULT_START_TS + 97 * index,
                         100000 + index, index % 4, "2.4.3")
            if 71300 <= code < 71310:
                error = messages.job_killed(code)
            elif code in (99303, 99305):
                error = messages.no_job_report(code)
            elif code in (50660, 50661, 50664) and index % 2:
                error = messages.performance_kill(code, "cmsRun1")
            else:
                error = messages.error(code, "cmsRun1")
            assert error["exitCode"] == code and error["details"]
            texts.append(error["details"])
        distinct = set(texts)
        signatures = {signature(text) for text in distinct}
        assert len(distinct) >= 3, (code, distinct)
        assert len(signatures) <= 16, (code, len(signatures))
        all_texts += len(distinct)
        all_signatures += len(signatures)
    assert all_signatures < 0.25 * all_texts


def test_codes_in_the_stream_come_with_several_texts(stream) -> None:
    texts: dict[int, set[str]] = defaultdict(set)
    counts: Counter = Counter()
    for doc in stream:
        for error in _errors(doc):
            texts[int(error["exitCode"])].add(error["details"])
            counts[int(error["exitCode"])] += 1
    frequent = {code for code, n in counts.items() if n >= 10}
    assert {99999, 71304, 50660, 99303, 8021, 60307} <= frequent
    for code in frequent:
        assert len(texts[code]) >= 3, (code, texts[code])


def test_shares_set_to_zero_produce_none_of_the_shapes() -> None:
    docs = list(generate_documents(3000, SEED, shapes=ZERO_SHAPES, **CLEAN))
    assert not any(_is_envelope(doc) for doc in docs)
    for doc in docs:
        steps = _steps(doc)
        assert not {"JobKilled", "NoJobReport", "PerformanceError"} & set(steps)
        kinds = {e["type"] for e in _errors(doc)}
        assert not {"ErrorLoggingAddition", "ReportManipulatingError", "PerformanceKill"} & kinds
        if _jobstate(doc) != "success" and doc["meta_data"]["jobstate"] != "submitfailed":
            assert _errors(doc)


def test_no_retries_when_the_maximum_is_zero() -> None:
    docs = list(generate_documents(500, SEED, shapes={"retry_max": 0}, **CLEAN))
    assert {_retry(doc) for doc in docs} == {0}


def test_same_seed_same_shapes_stream() -> None:
    first = list(generate_documents(400, 4, shapes={"envelope": 0.5, "agent_killed": 0.2}))
    again = list(generate_documents(400, 4, shapes={"envelope": 0.5, "agent_killed": 0.2}))
    assert first == again
    assert 100 < sum(isinstance(d, dict) and _is_envelope(d) for d in first) < 300


def test_bad_shape_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown report shape"):
        shapes_from_model({"envelopes": 0.1})
    with pytest.raises(ValueError, match="within 0..1"):
        shapes_from_model({"log_tail": 1.5})
    with pytest.raises(ValueError, match="add up to more than 1"):
        shapes_from_model({"agent_killed": 0.6, "no_job_report": 0.6})
