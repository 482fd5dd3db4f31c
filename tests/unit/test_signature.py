"""Error signatures: one name per kind of failure, whatever varies in its message."""

from __future__ import annotations

import json

import pytest

from fwjr.signature import SIGNATURE_HEAD, masked, signature
from tests.fixtures.paths import REFERENCE


def _reference_messages() -> list[tuple[int, str]]:
    found = []
    for path in sorted(REFERENCE.rglob("*.json")):
        try:
            doc = json.loads(path.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
        report = doc.get("fwjr", doc) if isinstance(doc, dict) else {}
        steps = report.get("steps") if isinstance(report, dict) else None
        for body in (steps.values() if isinstance(steps, dict) else steps or []):
            for error in (body.get("errors") or []) if isinstance(body, dict) else []:
                if isinstance(error, dict) and error.get("details"):
                    found.append((int(error["exitCode"]), error["details"]))
    return found


def test_the_reference_set_has_error_texts() -> None:
    assert len(_reference_messages()) >= 8


def test_reference_texts_of_one_failure_share_a_signature_and_others_do_not() -> None:
    by_text = {text: signature(text) for _, text in _reference_messages()}
    killed = {s for t, s in by_text.items() if t.startswith("The job was killed by the WMAgent for using too much wallclock")}
    report_file = {s for t, s in by_text.items() if t.startswith("Could not find report file for step stageOut1")}
    assert len(killed) == 1 and len(report_file) == 1
    assert killed != report_file


@pytest.mark.parametrize("first, second", [
    ("Failed to open root://cmsxrootd.fnal.gov//store/mc/A/B/0001.root", "Failed to open root://eoscms.cern.ch//store/data/C/D/9.root"),
    ("Fatal error reading /store/unmerged/X/Y/12.root on t2-wn-12.cern.ch", "Fatal error reading /store/mc/Z/W/999.root on node7.desy.de"),
    ("segfault at 0x7f3a12bc ip 0x0000004012", "segfault at 0xdeadbeef ip 0x1"),
    ("Job started 2026-11-02 12:03:01 ran 3600 s", "Job started 2025-01-31T00:00:09Z ran 17 s"),
    ("RSS 4100.5 MB exceeds 4000 MB", "RSS 5123 MB exceeds 2000 MB"),
    ("guid 329e886e-0e88-11e6-b2c3-02163e00efd5 lost", "guid f7a862f8-ecc1-11e5-b4f2-02163e00efd5 lost"),
    ("from 188.184.1.20:1094 refused", "from 131.225.3.4 refused"),
])
def test_variable_parts_are_masked(first: str, second: str) -> None:
    assert signature(first) == signature(second)
    assert masked(first) == masked(second)


@pytest.mark.parametrize("first, second", [
    ("Failed to open file", "Failed to close file"),
    ("step cmsRun1 failed", "step stageOut1 failed"),
])
def test_different_failures_get_different_signatures(first: str, second: str) -> None:
    assert signature(first) != signature(second)


def test_a_log_tail_after_the_head_does_not_split_a_failure() -> None:
    head = "Exit 8001: CMSException Exception from cmsRun\n" + "x" * SIGNATURE_HEAD
    assert signature(head + "\nline 1 of job A") == signature(head + "\ncompletely different tail of job B")


def test_empty_message_has_no_signature_and_names_are_short_and_stable() -> None:
    assert signature("") == ""
    name = signature("Fatal Exception")
    assert len(name) == 12 and int(name, 16) >= 0
    assert name == signature("Fatal Exception")
