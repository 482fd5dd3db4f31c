"""Correlation: excess failures go to the outage that overlaps them, not to an unrelated one."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from fwjr.aggregate import aggregate_jobs, row_dicts
from fwjr.alerting.correlate import CODE, SERVICE, correlate_store, services_for_job
from fwjr.errors import RejectedDocument
from fwjr.merge import merge_document
from fwjr.store import alerts
from fwjr.store.connection import Store
from fwjr.store.schema import JOB_COLUMNS
from fwjr.synth import generate_documents
from streams.sink import job_row
from tests.fixtures import store_helpers
from tests.fixtures.store import store  # noqa: F401 (fixture)

# Recent enough that the jobs table's retention and the minute rollup keep every row.
START = int(time.time()) // 3600 * 3600 - 6 * 3600
BURST = {"site": "T1_US_FNAL_Disk", "start_minute": 40, "minutes": 15, "failure_rate": 0.5, "exit_code": 8028}
EOS = ("EOS", START + 38 * 60, START + 58 * 60)
FTS = ("FTS", START + 90 * 60, START + 110 * 60)


@pytest.fixture(scope="module")
def incident(store: Store) -> Iterator[tuple[Store, list]]:  # noqa: F811 (fixture)
    jobs = []
    for doc in generate_documents(18000, 31, start_ts=START, minutes=150, scenario={"bursts": [BURST]}):
        if isinstance(doc, dict):
            try:
                jobs.append(merge_document(doc))
            except (RejectedDocument, ValueError, TypeError, KeyError):
                continue
    store_helpers.insert_aggregates(store, row_dicts(aggregate_jobs(jobs, "minute").rows))
    store.insert_columns("jobs", JOB_COLUMNS, [list(c) for c in zip(*(job_row(j, "", 0, i) for i, j in enumerate(jobs)))])
    rows = [[service, begin, end, "down", "", "test", 2] for service, begin, end in (EOS, FTS)]
    alerts.insert_outages(store, rows)
    yield store, jobs


def test_excess_failures_are_attributed_to_the_overlapping_outage_only(incident: tuple[Store, list]) -> None:
    store, _ = incident
    report = correlate_store(store, START, START + 150 * 60, now=START + 200 * 60)
    by_service = {entry["outage"]["service"]: entry for entry in report["outages"]}
    eos, fts = by_service["EOS"], by_service["FTS"]
    assert eos["excess"] > 100
    assert eos["by_exit_code"][0]["exit_code"] == 8028
    assert eos["by_exit_code"][0]["excess"] > 0.8 * eos["excess"]
    assert eos["by_site"][0]["site"] == BURST["site"]
    assert abs(fts["excess"]) < 0.1 * eos["excess"]
    fts_8028 = sum(e["excess"] for e in fts["by_exit_code"] if e["exit_code"] == 8028)
    assert fts_8028 < 0.05 * eos["by_exit_code"][0]["excess"], fts


def test_verdicts_say_retry_for_the_outage_code_and_debug_for_the_steady_ones(incident: tuple[Store, list]) -> None:
    store, _ = incident
    verdicts = {v["exit_code"]: v for v in correlate_store(store, START, START + 150 * 60, now=START + 200 * 60)["exit_codes"]}
    assert verdicts[8028]["verdict"] == SERVICE
    steady = [v for code, v in verdicts.items() if code != 8028 and v["failures_in"] + v["failures_out"] >= 20]
    assert steady and all(v["verdict"] == CODE for v in steady)


def test_a_job_knows_which_services_were_out_while_it_ran(incident: tuple[Store, list]) -> None:
    store, jobs = incident
    inside = next(j for j in jobs if EOS[1] + 60 < j.ts < EOS[2])
    outside = next(j for j in jobs if j.ts < EOS[1])
    assert [o["service"] for o in services_for_job(store, inside.identity)] == ["EOS"]
    assert services_for_job(store, outside.identity) == []
    assert services_for_job(store, "no-such-job") is None
