"""Triage over a real embedded store: the evidence queries and the decisions on hand-written rows."""

from __future__ import annotations

import time
from pathlib import Path

from fwjr.config import Settings
from fwjr.store import alerts, schema
from fwjr.store import evidence as store_evidence
from fwjr.store.connection import Store
from fwjr.triage.decide import triage_thresholds
from fwjr.triage.report import similar_to, triage
from fwjr.triage.sites import BAN, OK, site_statuses
from tests.fixtures import store_helpers
from tests.fixtures.store import agg_row, empty, store  # noqa: F401 (fixtures)

START = int(time.time()) // 3600 * 3600 - 6 * 3600  # recent: the minute rows are all still there
OUTAGE = (START + 600, START + 1200)


def _agg(bucket: int, workflow: str, site: str, jobs: int, failed: int, code: int = 0, seed: int = 1) -> dict:
    row = agg_row(bucket, seed, workflow=workflow, task=f"/{workflow}/Task", site=site, exit_code=code)
    row.update(jobs=jobs, failed=failed)
    return row


def _error(workflow: str, site: str, code: int, count: int, signature: str, bucket: int = START) -> dict:
    return {"bucket": bucket, "workflow": workflow, "task": f"/{workflow}/Task", "step": "cmsRun1", "site": site,
            "exit_code": code, "retry_count": 0, "signature": signature, "count": count}


def _seed(store: Store) -> None:
    rows = []
    for minute in range(60):
        bucket = START + minute * 60
        inside = OUTAGE[0] <= bucket < OUTAGE[1]
        rows.append(_agg(bucket, "wf-retry", "T1_A", 10, 6 if inside else 0, 8028 if inside else 0))
        rows.append(_agg(bucket, "wf-calm", "T2_B", 40, 0))
    for site in ("T1_A", "T2_B", "T2_C"):
        rows.append(_agg(START + 1800, "wf-memory", site, 200, 80, 50660, seed=50))
    rows.append(_agg(START + 1800, "wf-few", "T2_C", 100, 3, 8001))
    rows.append(_agg(START + 1800, "wf-ban", "T3_D", 20, 15, 60311))
    store_helpers.insert_aggregates(store, rows)
    errors = [_error("wf-retry", "T1_A", 8028, 60, "sig8028", OUTAGE[0])]
    errors += [_error("wf-memory", site, 50660, 80, "sigmem") for site in ("T1_A", "T2_B", "T2_C")]
    errors += [_error("wf-few", "T2_C", 8001, 3, "sig8001"), _error("wf-ban", "T3_D", 60311, 15, "sigso")]
    store_helpers.insert_errors(store, errors)
    store.insert("error_examples", schema.EXAMPLE_COLUMNS, [[8028, "sig8028", "cmsRun1", "Fatal Exception", "Failed to open the file", START]])
    alerts.insert_outages(store, [["EOS", OUTAGE[0], OUTAGE[1], "down", "EOS down", "test", 1]])


def test_decisions_from_stored_rows(empty: Store, tmp_path: Path) -> None:  # noqa: F811 (fixture)
    _seed(empty)
    settings = Settings(home=tmp_path)
    decisions = triage(empty, START, START + 3600, settings=settings, now=START + 7200)
    by_name = {d.workflow: d for d in decisions}
    assert set(by_name) == {"wf-retry", "wf-memory", "wf-few", "wf-ban"}, "a workflow without failures is not listed"
    assert decisions[0].workflow == "wf-memory", "most wasted core-hours first"

    retry = by_name["wf-retry"]
    assert (retry.verdict, retry.remedy, retry.rule) == ("retry", "acdc", "input-file-missing")
    outage = retry.evidence["outage"]
    assert (outage["jobs_in"], outage["failed_in"], outage["jobs_out"], outage["failed_out"]) == (100, 60, 500, 0)
    assert outage["services"] == ["EOS"]

    memory = by_name["wf-memory"]
    assert (memory.verdict, memory.remedy) == ("resources", "more-memory +1000MB")
    assert memory.top_exit_codes == [{"exit_code": 50660, "count": 240, "description": memory.top_exit_codes[0]["description"]}]
    assert memory.evidence["main_error"]["sites"] == 3 and memory.failed == 240 and memory.jobs == 600

    assert by_name["wf-few"].verdict == "watch"
    ban = by_name["wf-ban"]
    assert ban.evidence["site_status"] == {"T3_D": BAN}

    only = triage(empty, START, START + 3600, {"workflow": "wf-memory", "site": {"regex": "^T2_"}}, settings=settings, now=START + 7200)
    assert [d.workflow for d in only] == ["wf-memory"]
    assert set(only[0].evidence["site_status"]) == {"T2_B", "T2_C"}, "the site filter narrows the evidence too"
    assert only[0].failed == 160


def test_error_patterns_carry_the_stored_message_and_site_status_reads_every_site(empty: Store, tmp_path: Path) -> None:  # noqa: F811
    _seed(empty)
    patterns = store_evidence.error_patterns(empty, START, START + 3600, {"workflow": "wf-retry"})
    assert patterns == [{"workflow": "wf-retry", "task": "/wf-retry/Task", "step": "cmsRun1", "site": "T1_A", "exit_code": 8028,
                         "signature": "sig8028", "count": 60, "example": "Failed to open the file"}]
    assert store_evidence.error_code_counts(empty, START, START + 3600) == {8001: 3, 8028: 60, 50660: 240, 60311: 15}
    limits = triage_thresholds(Settings(home=tmp_path)).site
    found = {s.site: s for s in site_statuses(empty, START, START + 3600, limits)}
    assert found["T3_D"].status == BAN and found["T2_B"].status == OK
    assert found["T2_B"].jobs == 60 * 40 + 200 and found["T2_B"].failed == 80
    assert list(found)[0] == "T3_D", "worst first"


def test_similar_workflows_from_the_store(empty: Store, tmp_path: Path) -> None:  # noqa: F811
    _seed(empty)
    store_helpers.insert_errors(empty, [_error("wf-memory-too", site, 50660, 5, "sigmem") for site in ("T1_A", "T2_B", "T2_C")])
    settings = Settings(home=tmp_path)
    assert similar_to(empty, START, START + 3600, "wf-memory", settings=settings) == [{"workflow": "wf-memory-too", "similarity": 1.0}]
    assert similar_to(empty, START, START + 3600, "wf-retry", settings=settings) == []
    assert similar_to(empty, START, START + 3600, "no-such-workflow", settings=settings) == []
