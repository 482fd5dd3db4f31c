"""The generator makes the same realistic stream for a seed, with the damage it promises."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timezone

import orjson
import pytest

from fwjr.avro_codec import read_avro_file
from fwjr.model import Rejection
from fwjr.reader import decode_message, to_job
from fwjr.synth import (
    DEFAULT_START_TS,
    document_ts,
    generate_documents,
    load_model,
    load_scenario,
    write_archive,
)
from tests.fixtures.paths import WMARCHIVE

ERROR_CODES = WMARCHIVE / "error_codes" / "wmarchive_error_codes.json"
JOBTYPES = {"Processing", "Production", "Merge", "LogCollect", "Cleanup", "Harvesting", "Skim"}
COUNT = 3000


# Reports in the archive form only, without the agent's pseudo-steps and follow-on errors, for the
# tests that read the archive layout itself; tests/unit/test_generate_shapes.py covers those shapes.
ARCHIVE_FORM = {
    "envelope": 0, "agent_killed": 0, "performance_kill": 0, "no_job_report": 0, "failed_without_error": 0,
    "log_tail": 0, "missing_report": 0,
}


def _stream(count: int = COUNT, seed: int = 11, **kwargs) -> list:
    return list(generate_documents(count, seed, **kwargs))


def _dump(item) -> bytes:
    return item if isinstance(item, bytes) else orjson.dumps(item)


def _clean(doc: dict) -> bool:
    """Whether a document is free of every drift kind the generator can apply."""
    if not isinstance(doc.get("wmaid"), str) or "_id" in doc or not isinstance(doc["steps"], list):
        return False
    if type(doc["meta_data"].get("ts")) is not int:
        return False
    for step in doc["steps"]:
        if type(step.get("status")) is not int or "performance" not in step:
            return False
        if isinstance(step["site"], str) and not (type(step["start"]) is int and type(step["stop"]) is int):
            return False
        if step["site"] == {} and doc["meta_data"]["jobstate"] == "success":
            return False
        if any(type(e["exitCode"]) is not int for e in step["errors"]):
            return False
        perf = step["performance"]
        if "cpu" not in perf:
            return False
        for group in perf.values():
            for value in group.values():
                if type(value) not in (int, float) or value < 0:
                    return False
    return True


def _first_site(doc: dict) -> str:
    steps = doc["steps"] if isinstance(doc["steps"], list) else list(doc["steps"].values())
    return next((s["site"] for s in steps if isinstance(s.get("site"), str) and s["site"]), "")


def _first_code(doc: dict) -> int:
    steps = doc["steps"] if isinstance(doc["steps"], list) else list(doc["steps"].values())
    return next((int(e["exitCode"]) for s in steps for e in s.get("errors", ())), 0)


@pytest.fixture(scope="module")
def stream() -> list:
    return _stream()


@pytest.fixture(scope="module")
def good(stream) -> list[dict]:
    return [d for d in stream if document_ts(d) is not None]


def test_same_seed_same_bytes_other_seed_other_bytes(stream):
    again = _stream()
    assert [_dump(d) for d in again] == [_dump(d) for d in stream]
    other = _stream(seed=12)
    assert [_dump(d) for d in other] != [_dump(d) for d in stream]


def test_shares_are_roughly_respected(stream, good):
    malformed = len(stream) - len(good)
    assert 0.004 * COUNT <= malformed <= 0.02 * COUNT
    ids = Counter(d["wmaid"] for d in good if "wmaid" in d)
    duplicates = sum(n - 1 for n in ids.values())
    assert 0.01 * COUNT <= duplicates <= 0.035 * COUNT
    drifted = sum(not _clean(d) for d in good)
    assert 0.025 * COUNT <= drifted <= 0.09 * COUNT


def test_without_shares_every_document_is_clean_and_unique():
    docs = _stream(1500, drift_share=0, malformed_share=0, duplicate_share=0, shapes=ARCHIVE_FORM)
    assert all(_clean(d) for d in docs)
    assert len({d["wmaid"] for d in docs}) == len(docs)


def test_full_drift_share_drifts_every_document():
    docs = _stream(800, drift_share=1.0, malformed_share=0, duplicate_share=0)
    assert sum(not _clean(d) for d in docs) >= 0.95 * len(docs)


def test_malformed_items_are_undecodable_or_unusable(stream):
    """Every malformed item, sent as a Kafka message, ends as a Rejection of the real reader."""
    bad = [d for d in stream if document_ts(d) is None]
    assert bad
    reasons = Counter()
    for item in bad:
        raw = item if isinstance(item, bytes) else orjson.dumps(item)
        outcome = to_job("generated", decode_message(raw, None, "generated"))
        assert type(outcome) is Rejection, item
        reasons[outcome.reason.split(":")[0]] += 1
    assert set(reasons) == {
        "invalid JSON",
        "document is not a JSON object",
        "not a job report",
        "no time",
        "meta_data.ts is not a positive epoch time",
    }


def test_sizes_are_realistic_with_a_tail(good):
    sizes = sorted(len(orjson.dumps(d)) for d in good)
    median = sizes[len(sizes) // 2]
    assert 2_000 <= median <= 12_000
    within = sum(400 <= s <= 25_600 for s in sizes)
    assert within >= 0.97 * len(sizes)
    assert sum(s > 12_000 for s in sizes) >= 0.02 * len(sizes)  # the tail exists
    assert sizes[-1] < 80_000


def test_sites_jobtypes_hosts_and_codes_come_from_the_real_model():
    good = [d for d in _stream(shapes=ARCHIVE_FORM) if document_ts(d) is not None]
    model = load_model()
    codes = set(json.loads(ERROR_CODES.read_text()))
    sites = Counter(_first_site(d) for d in good)
    assert set(sites) - {""} <= set(model["sites"])
    assert len(sites) >= 35
    assert sites.most_common(1)[0][0] == "T1_US_FNAL_Disk"
    jobtypes = Counter(d["meta_data"]["jobtype"] for d in good)
    assert set(jobtypes) <= JOBTYPES
    assert jobtypes.most_common(1)[0][0] == "Processing" and {"Production", "Merge", "LogCollect"} <= set(
        jobtypes
    )
    assert {d["meta_data"]["host"] for d in good} <= set(model["hosts"])
    first_codes = Counter(_first_code(d) for d in good)
    assert {str(c) for c in first_codes if c} <= codes
    failed = sum(d["meta_data"]["jobstate"] != "success" for d in good)
    assert 0.02 * len(good) <= failed <= 0.10 * len(good)
    tasks = {d["task"] for d in good}
    assert all(t.count("/") >= 2 for t in tasks)
    assert len({t.split("/")[1] for t in tasks}) >= 100


def test_cpu_efficiency_is_mostly_40_to_95_percent(good):
    ratios = []
    for doc in filter(_clean, good):
        for step in doc["steps"]:
            cpu = step.get("performance", {}).get("cpu") or {}
            if (
                step["name"].startswith("cmsRun")
                and not step["errors"]
                and type(cpu.get("TotalJobCPU")) is float
            ):
                ratios.append(cpu["TotalJobCPU"] / (cpu["TotalJobTime"] * cpu["NumberOfThreads"]))
    assert len(ratios) > 1000
    assert sum(0.4 <= r <= 0.99 for r in ratios) >= 0.85 * len(ratios)
    assert 0 < sum(r > 1.0 for r in ratios) < 0.03 * len(ratios)


def test_timestamps_spread_over_the_requested_minutes():
    start = 1_800_000_000
    docs = _stream(1000, start_ts=start, minutes=90, malformed_share=0, drift_share=0)
    stamps = [document_ts(d) for d in docs]
    assert min(stamps) >= start and max(stamps) < start + 90 * 60
    assert max(stamps) - min(stamps) > 80 * 60


def test_default_start_is_the_fixed_epoch(good):
    assert min(document_ts(d) for d in good) >= DEFAULT_START_TS


def test_scenario_burst_forces_failures_at_its_site_and_window():
    scenario = {
        "bursts": [
            {
                "site": "T1_US_FNAL_Disk",
                "start_minute": 10,
                "minutes": 20,
                "failure_rate": 1.0,
                "exit_code": 8028,
            }
        ]
    }
    docs = _stream(3000, minutes=60, scenario=scenario, drift_share=0, malformed_share=0, duplicate_share=0, shapes=ARCHIVE_FORM)
    begin, end = DEFAULT_START_TS + 600, DEFAULT_START_TS + 1800
    inside = [d for d in docs if _first_site(d) == "T1_US_FNAL_Disk" and begin <= document_ts(d) < end]
    outside = [d for d in docs if _first_site(d) == "T1_US_FNAL_Disk" and not begin <= document_ts(d) < end]
    assert len(inside) > 100
    assert all(_first_code(d) == 8028 and d["meta_data"]["jobstate"] == "jobfailed" for d in inside)
    assert sum(_first_code(d) == 8028 for d in outside) < 0.05 * len(outside)


def test_scenario_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="unknown site 'T9_NOWHERE'"):
        _stream(
            5,
            scenario={
                "bursts": [
                    {"site": "T9_NOWHERE", "start_minute": 0, "minutes": 1, "failure_rate": 1, "exit_code": 1}
                ]
            },
        )
    with pytest.raises(ValueError, match="lacks"):
        _stream(5, scenario={"bursts": [{"site": "T2_CH_CERN"}]})
    path = tmp_path / "scenario.json"
    path.write_text(
        '{"bursts": [{"site": "T2_CH_CERN", "start_minute": 0, "minutes": 5, '
        '"failure_rate": 0.5, "exit_code": 8021}]}'
    )
    assert load_scenario(path)["bursts"][0]["exit_code"] == 8021
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_scenario(path)


def _day_folder(ts: int) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y/%m/%d")


def test_avro_archive_is_readable_and_foldered_by_day(tmp_path):
    # 1,200 documents over two days: both day folders; malformed dicts are kept for consumers
    # to reject, but raw bytes and report times that are no number cannot be Avro and are
    # counted as skipped
    docs = _stream(1200, seed=5, minutes=2 * 1440)
    summary = write_archive(iter(docs), tmp_path, "avro", files_per_day=4)
    malformed = sum(document_ts(d) is None for d in docs)
    raw = sum(isinstance(d, bytes) for d in docs)
    untimely = sum(isinstance(d, dict) and isinstance(d.get("meta_data"), dict) and d["meta_data"].get("ts") is not None
                   and document_ts(d) is None for d in docs)
    assert (summary["malformed"], summary["skipped"]) == (malformed, raw + untimely) and raw > 0 and untimely > 0
    assert summary["documents"] == len(docs) - malformed
    assert summary["duplicates"] > 0
    files = sorted(tmp_path.rglob("*.avro"))
    assert summary["files"] == len(files) and 5 <= len(files) <= 8
    assert summary["bytes"] == sum(f.stat().st_size for f in files)
    timed = untimed = 0
    for path in files:
        folder = path.parent.relative_to(tmp_path).as_posix()
        for record in read_avro_file(path):
            ts = (record["meta_data"] or {}).get("ts")
            if ts is None:
                untimed += 1
                continue
            timed += 1
            assert _day_folder(ts) == folder
            assert isinstance(record["steps"], list) and record["steps"]
    assert timed == summary["documents"]
    assert untimed == malformed - raw - untimely


def test_jsonl_archive_keeps_malformed_lines(tmp_path):
    docs = _stream(3000, seed=6)
    summary = write_archive(iter(docs), tmp_path, "jsonl")
    lines = [line for path in sorted(tmp_path.rglob("*.jsonl")) for line in path.read_bytes().splitlines()]
    assert len(lines) == summary["documents"] + summary["malformed"] == len(docs)
    undecodable = 0
    for line in lines:
        try:
            orjson.loads(line)
        except orjson.JSONDecodeError:
            undecodable += 1
    assert 0 < undecodable <= summary["malformed"]


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="archive format"):
        write_archive([], tmp_path, "parquet")
    with pytest.raises(ValueError, match="malformed_share"):
        _stream(1, malformed_share=2)
