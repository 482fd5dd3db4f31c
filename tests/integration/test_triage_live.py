"""Triage end to end: the four rehearsed incidents through the real broker, worker, store and API.

The scenario bench/triage_scenario.json lays one workflow-scoped incident per verdict into
generated traffic (a burst at FNAL during an EOS outage, stage-out failures at CERN, one code
and message at every site, memory exhaustion); `fwjr produce --scenario` sends it with the
outage's status events, the worker stores it, and `fwjr triage` (answered by the board's API,
the worker owning the store) must give each incident workflow its verdict and remedy, and no
workflow without an incident a debug or resources verdict.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from fwjr.devstack.broker import find_executable
from fwjr.synth.feed import burst_workflows
from tests.fixtures.live import Stack, stack_env

pytestmark = pytest.mark.kafka

SCENARIO = Path(__file__).resolve().parents[2] / "bench" / "triage_scenario.json"
SEED = 3
JOBS = 8000
MINUTES = 60


@pytest.fixture(scope="module")
def triage_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if find_executable("java") is None:
        pytest.skip("java is not installed: the live stack needs Java 17+")
    home = tmp_path_factory.mktemp("fwjr-triage")
    running = Stack(home, stack_env(home))
    running.fwjr("up", "--detach", "--feed-rate", "0", timeout=300)
    try:
        yield running
    finally:
        running.fwjr("down", check=False, timeout=120)


def _iso(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _get(stack: Stack, path: str) -> tuple[int, dict]:
    url = f"http://127.0.0.1:{stack.env['FWJR_DASHBOARD_PORT']}{path}"
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_each_rehearsed_incident_gets_its_verdict_and_remedy(triage_stack: Stack, tmp_path: Path) -> None:
    scenario = json.loads(SCENARIO.read_text())
    path = tmp_path / "triage.json"
    path.write_text(json.dumps(scenario))
    triage_stack.fwjr("produce", "--generate", str(JOBS), "--seed", str(SEED), "--minutes", str(MINUTES), "--scenario", str(path), "--wait")

    outages = {o["service"]: o for o in triage_stack.jsonl("outages")}
    first_fwjr = outages["EOS"]["start"] - scenario["outages"][0]["start_minute"] * 60
    window = ("--from", _iso(first_fwjr - 60), "--to", _iso(first_fwjr + (MINUTES + 1) * 60))
    decisions = {d["workflow"]: d for d in triage_stack.jsonl("triage", *window, "--format", "jsonl")}
    incidents = burst_workflows(scenario, SEED, first_fwjr)
    assert len(set(incidents)) == 4 and all(incidents)

    for burst, workflow in zip(scenario["bursts"], incidents):
        made = decisions[workflow]
        expected = burst["expect"]
        assert (made["verdict"], made["remedy"]) == (expected["verdict"], expected["remedy"]), (burst["exit_code"], made["reason"])
        assert {"workflow", "verdict", "remedy", "rule", "failed", "wasted_core_hours", "top_exit_codes", "evidence"} <= set(made)
        assert made["top_exit_codes"][0]["exit_code"] == burst["exit_code"]
        assert made["failed"] >= 10 and made["rule"] is not None
    retry = decisions[incidents[0]]["evidence"]["outage"]
    assert retry["significant"] and retry["services"] == ["EOS"] and retry["rate_in"] > 2 * retry["rate_out"]
    assert decisions[incidents[1]]["evidence"]["spread"]["top_site"] == "T2_CH_CERN"
    assert decisions[incidents[2]]["evidence"]["main_error"]["signatures"][:1] and decisions[incidents[2]]["evidence"]["main_error"]["sites"] >= 10

    others = [d for name, d in decisions.items() if name not in incidents]
    assert len(others) > 20
    wrong = [(d["workflow"], d["verdict"], d["reason"]) for d in others if d["verdict"] in ("debug", "resources")]
    assert wrong == []

    table = triage_stack.fwjr("triage", *window, "--format", "table").stdout.decode()
    assert "verdict" in table and "more-memory +1000MB" in table

    # a filter selects the workflows failing at the site, each with its whole decision
    only = triage_stack.jsonl("triage", *window, "--site", "T2_CH_CERN")
    assert incidents[1] in {d["workflow"] for d in only} and len(only) < len(decisions)
    assert all("T2_CH_CERN" in d["evidence"]["site_status"] for d in only)
    whole = ("verdict", "remedy", "failed", "jobs", "reason")
    assert all([d[k] for k in whole] == [decisions[d["workflow"]][k] for k in whole] for d in only)

    status, body = _get(triage_stack, f"/api/v1/site-status?from={first_fwjr - 60}&to={first_fwjr + (MINUTES + 1) * 60}")
    assert status == 200 and {s["site"] for s in body["sites"]} >= {"T2_CH_CERN", "T1_US_FNAL_Disk"}
    status, body = _get(triage_stack, "/api/v1/triage?stie=T2_CH_CERN")
    assert status == 400 and "stie" in body["error"] and "site" in body["error"]
