"""The query layer against a real embedded ClickHouse (chDB): exact round trips, filters, views."""

from __future__ import annotations

import time

import pytest

from fwjr.aggregate import regroup
from fwjr.bucket import bucket_start
from fwjr.model import SCOPE_KEYS
from fwjr.store import error_reads, job_reads, ledger, reads, sql
from fwjr.store.connection import Store
from tests.fixtures import store_helpers
from tests.fixtures.store import agg_row, empty, store, without_batch  # noqa: F401

NOW = int(time.time())
BASE = bucket_start(NOW - 6 * 3600, "hour")
MONDAY_2024 = 1704067200  # 2024-01-01 00:00 UTC, a Monday


def _sorted(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda r: (r["bucket"],) + tuple(r[k] for k in SCOPE_KEYS))


def test_minute_rows_come_back_exactly(empty: Store) -> None:
    rows = [
        agg_row(BASE + 60 * i, seed=i + 1, site=site, exit_code=code)
        for i in range(5)
        for site, code in (("T2_CH_CERN", 0), ("T1_US_FNAL", 8021))
    ]
    store_helpers.insert_aggregates(empty, rows, batch="b1")
    got = reads.aggregates(empty, BASE, BASE + 3600, "minute")
    assert got == _sorted(without_batch(rows))
    assert all(type(v) is int for row in got for k, v in row.items() if k.endswith(("_sum", "_count")))


def test_regrouping_matches_the_shared_regroup(empty: Store) -> None:
    rows = [agg_row(BASE + 60 * i, seed=i + 1, host=f"h{i % 3}") for i in range(240)]
    store_helpers.insert_aggregates(empty, rows[:100])
    store_helpers.insert_aggregates(empty, rows[100:])
    for precision in ("hour", "day", "week", "month"):
        assert reads.aggregates(empty, BASE, BASE + 240 * 60, precision) == regroup(without_batch(rows), precision)


def test_week_buckets_start_on_monday_utc(empty: Store) -> None:
    tuesday_evening = MONDAY_2024 + 86400 + 20 * 3600
    store_helpers.insert_aggregates(empty, [agg_row(tuesday_evening)])
    got = reads.aggregates(empty, MONDAY_2024, MONDAY_2024 + 7 * 86400, "week")
    assert [row["bucket"] for row in got] == [MONDAY_2024] == [bucket_start(tuesday_evening, "week")]


def test_filters_exact_list_regex_prefix(empty: Store) -> None:
    sites = ("T2_CH_CERN", "T2_US_MIT", "T1_US_FNAL")
    store_helpers.insert_aggregates(empty, [agg_row(BASE, site=s, exit_code=c) for s in sites for c in (0, 8021)])

    def sites_of(filters: dict) -> set[str]:
        return {r["site"] for r in reads.aggregates(empty, BASE, BASE + 60, "minute", filters)}

    assert sites_of({"site": "T2_US_MIT"}) == {"T2_US_MIT"}
    assert sites_of({"site": ["T2_US_MIT", "T1_US_FNAL"]}) == {"T2_US_MIT", "T1_US_FNAL"}
    assert sites_of({"site": {"regex": "^T2_.*"}}) == {"T2_CH_CERN", "T2_US_MIT"}
    assert sites_of({"site": {"prefix": "T1"}}) == {"T1_US_FNAL"}
    assert {r["exit_code"] for r in reads.aggregates(empty, BASE, BASE + 60, "minute", {"exit_code": "8021"})} == {8021}
    assert sites_of({"exit_code": {"regex": "^80"}, "site": {"prefix": "T2_CH"}}) == {"T2_CH_CERN"}


def test_filter_values_are_bound_parameters(empty: Store) -> None:
    store_helpers.insert_aggregates(empty, [agg_row(BASE, site="T2_CH_CERN")])
    hostile = "x' OR 1=1 --"
    assert reads.aggregates(empty, BASE, BASE + 60, "minute", {"site": hostile}) == []
    assert reads.aggregates(empty, BASE, BASE + 60, "minute", {"site": [hostile, "a'); DROP TABLE agg; --"]}) == []
    assert store_helpers.recent_jobs(empty, BASE, BASE + 60, search=hostile) == []
    assert reads.distinct_values(empty, "site", BASE, BASE + 60, prefix=hostile) == []
    assert len(reads.aggregates(empty, BASE, BASE + 60, "minute")) == 1


def test_unknown_filter_key_is_refused(empty: Store) -> None:
    with pytest.raises(ValueError, match="unknown filter key 'site; DROP'"):
        reads.aggregates(empty, BASE, BASE + 60, "minute", {"site; DROP": "x"})


def test_finest_precision_follows_the_oldest_point() -> None:
    day = 86400
    ladder = [("minute", 2 * day), ("hour", 30 * day), ("day", 365 * day), ("month", None)]
    now = 1_800_000_000
    assert sql.finest_precision(now - day, now, now, ladder) == "minute"
    assert sql.finest_precision(now - 3 * day, now, now, ladder) == "hour"
    assert sql.finest_precision(now - 3 * day, now - 2 * day, now, ladder) == "hour"
    assert sql.finest_precision(now - 100 * day, now - 99 * day, now, ladder) == "day"
    assert sql.finest_precision(now - 400 * day, now, now, ladder) == "month"
    with pytest.raises(ValueError, match="empty time range"):
        sql.finest_precision(now, now, now, ladder)


def test_totals_series_and_top(empty: Store) -> None:
    rows = [agg_row(BASE + 60 * i, seed=1, site=site) for i in range(3) for site in ("A", "B")]
    rows.append(agg_row(BASE + 3600, seed=5, site="B"))
    store_helpers.insert_aggregates(empty, rows)
    total = reads.totals(empty, BASE, BASE + 7200)
    assert total["jobs"] == 3 * 6 + 15 and total["failed"] == 6 + 5
    assert total["failure_rate"] == pytest.approx(11 / 33)
    core = sum(r["core_hours_sum"] for r in rows)
    assert total["cpu_efficiency"] == pytest.approx(sum(r["cpu_hours_sum"] for r in rows) / core)
    wasted = total["wasted_core_hours"]
    assert wasted["sum"] == pytest.approx(sum(r["wasted_core_hours_sum"] for r in rows) / 1e6)
    assert wasted["avg"] == pytest.approx(wasted["sum"] / wasted["count"])
    assert reads.totals(empty, BASE, BASE + 7200, {"site": "A"})["jobs"] == 9

    hourly = reads.series(empty, BASE, BASE + 7200, "hour")
    assert [(p["bucket"], p["jobs"]) for p in hourly] == [(BASE, 18), (BASE + 3600, 15)]
    split = reads.series(empty, BASE, BASE + 7200, "hour", split="site", split_values=["B"])
    assert [(p["bucket"], p["site"], p["jobs"]) for p in split] == [(BASE, "B", 9), (BASE + 3600, "B", 15)]

    assert reads.top(empty, BASE, BASE + 7200, "site", "jobs", n=1) == [{"site": "B", "value": 24, "jobs": 24, "failed": 8}]
    assert [t["site"] for t in reads.top(empty, BASE, BASE + 7200, "site", "failure_rate")] == ["A", "B"]
    assert [t["site"] for t in reads.top(empty, BASE, BASE + 7200, "site", "core_hours")] == ["B", "A"]
    with pytest.raises(ValueError, match="unknown measure"):
        reads.top(empty, BASE, BASE + 7200, "site", "jobs) --")


def test_a_ranking_can_order_by_jobs_and_carry_another_measure(empty: Store) -> None:
    rows = [agg_row(BASE, seed=1, site="A"), agg_row(BASE, seed=2, site="B"), agg_row(BASE + 60, seed=4, site="C")]
    rows[0]["PeakValueRss_sum"] = 10**15
    store_helpers.insert_aggregates(empty, rows)
    by_value, _ = reads.ranking_page(empty, BASE, BASE + 120, "site", "PeakValueRss", "avg")
    by_jobs, _ = reads.ranking_page(empty, BASE, BASE + 120, "site", "PeakValueRss", "avg", rank_by="jobs")
    assert [r["site"] for r in by_value] == ["A", "C", "B"]
    assert [r["site"] for r in by_jobs] == ["C", "B", "A"]
    rss = sum(r["PeakValueRss_sum"] for r in rows) / sum(r["PeakValueRss_count"] for r in rows) / 1e6
    assert {r["total_value"] for r in by_jobs} == {by_value[0]["total_value"]}
    assert by_value[0]["total_value"] == pytest.approx(rss)
    with pytest.raises(ValueError, match="unknown rank_by"):
        reads.ranking_page(empty, BASE, BASE + 120, "site", rank_by="cores_sum")


def _error(bucket: int, site: str, code: int, count: int, step: str = "cmsRun1", workflow: str = "wf") -> dict:
    return {"bucket": bucket, "workflow": workflow, "task": "t", "step": step, "site": site, "exit_code": code, "retry_count": 0,
            "signature": "", "count": count}


def test_error_matrix_and_series(empty: Store) -> None:
    errors = [
        _error(BASE, "A", 8021, 5),
        _error(BASE + 60, "A", 8021, 2, step="stageOut1"),
        _error(BASE + 3600, "B", 50664, 4),
        _error(BASE + 3600, "B", 8021, 1, workflow="wf2"),
    ]
    store_helpers.insert_errors(empty, errors, batch="b")
    matrix = error_reads.error_matrix(empty, BASE, BASE + 7200, "site", "exit_code")
    assert matrix == [
        {"site": "A", "exit_code": 8021, "count": 7},
        {"site": "B", "exit_code": 50664, "count": 4},
        {"site": "B", "exit_code": 8021, "count": 1},
    ]
    split = error_reads.error_matrix(empty, BASE, BASE + 7200, "workflow", "site", split="exit_code", filters={"exit_code": 8021})
    assert {(m["workflow"], m["site"], m["count"]) for m in split} == {("wf", "A", 7), ("wf2", "B", 1)}
    assert store_helpers.error_series(empty, BASE, BASE + 7200, "hour") == [{"bucket": BASE, "count": 7}, {"bucket": BASE + 3600, "count": 5}]
    with pytest.raises(ValueError, match="must differ"):
        error_reads.error_matrix(empty, BASE, BASE + 60, "site", "site")


def _job(identity: str, ts: int, failed: bool, details: str = "", site: str = "T2_CH_CERN") -> dict:
    return {
        "identity": identity, "ts": ts, "workflow": "wf", "task": "t", "site": site, "host": "h", "jobtype": "Processing",
        "jobstate": "jobfailed" if failed else "success", "exit_code": 8021 if failed else 0,
        "exit_step": "cmsRun1" if failed else "", "acquisition_era": "Run3", "campaign": "C", "wn_name": "wn",
        "fwjr_id": "1-0", "agent_ver": "2.3", "retry_count": 0, "failed": int(failed), "wall_time": 100.0,
        "cpu_efficiency": None if failed else 0.8, "core_hours": 0.5, "error_type": "Fatal" if failed else "",
        "error_details": details, "errors": "[]", "log_archive": "/store/logs/x.tar.gz",
    }


def test_recent_jobs_search_dedupe_and_lookup(empty: Store) -> None:
    jobs = [
        _job("j1", BASE + 10, True, "FileReadError: <script>alert(1)</script>"),
        _job("j2", BASE + 20, True, "Segmentation violation"),
        _job("j3", BASE + 30, False),
    ]
    store_helpers.insert_jobs(empty, jobs, batch="b")
    store_helpers.insert_jobs(empty, jobs[:1], batch="b2")
    recent = store_helpers.recent_jobs(empty, BASE, BASE + 3600)
    assert [j["identity"] for j in recent] == ["j2", "j1"]
    assert recent[1]["error_details"] == jobs[0]["error_details"] and recent[1]["ts"] == BASE + 10
    assert recent[0]["cpu_efficiency"] is None
    assert [j["identity"] for j in store_helpers.recent_jobs(empty, BASE, BASE + 3600, search="segmentation")] == ["j2"]
    assert [j["identity"] for j in store_helpers.recent_jobs(empty, BASE, BASE + 3600, failed_only=False)] == ["j3", "j2", "j1"]
    assert job_reads.job(empty, "j3")["cpu_efficiency"] == 0.8
    assert job_reads.job(empty, "missing") is None
    assert ledger.recent_identities(empty, BASE + 15) == {"j2", "j3"}


def test_distinct_values_and_freshness(empty: Store) -> None:
    assert reads.freshness(empty) == {"last_job": None, "last_bucket": None, "last_write": None}
    assert reads.last_seen(empty) is None
    store_helpers.insert_aggregates(empty, [agg_row(BASE, seed=s, site=site) for s, site in ((1, "T2_A"), (4, "T2_B"), (2, "T1_C"))])
    assert reads.distinct_values(empty, "site", BASE, BASE + 60) == ["T2_B", "T1_C", "T2_A"]
    assert reads.distinct_values(empty, "site", BASE, BASE + 60, prefix="T2") == ["T2_B", "T2_A"]
    assert reads.last_seen(empty) == BASE
    store_helpers.insert_jobs(empty, [_job("j", BASE + 42, True)])
    assert reads.last_seen(empty) == BASE + 42


def test_dlq_counts(empty: Store) -> None:
    store_helpers.insert_dlq_counts(empty, [{"bucket": BASE, "reason": "bad json", "count": 3}, {"bucket": BASE + 60, "reason": "bad json", "count": 2}])
    store_helpers.insert_dlq_counts(empty, [{"bucket": BASE, "reason": "no ts", "count": 1}])
    assert reads.dlq_counts(empty, BASE, BASE + 3600) == [{"reason": "bad json", "count": 5}, {"reason": "no ts", "count": 1}]


def test_failed_job_search_by_id_is_exact_and_any_other_text_a_substring(empty: Store) -> None:
    def job(identity: str, fwjr_id: str, ts: int, **fields: object) -> dict:
        return {**_job(identity, ts, True, "Fatal: FileOpenError on root://eos/file"), "fwjr_id": fwjr_id, **fields}

    store_helpers.insert_jobs(empty, [
        job("wma-a", "7-12", BASE + 10),
        job("wma-b", "7-120", BASE + 20),
        job("wma-c", "x7-12y", BASE + 30, site="T1_US_FNAL"),
        job("wma-d", "8-1", BASE + 40, host="vocms0301"),
        job("wma-old", "7", BASE - 86400),
    ])
    store_helpers.insert_jobs(empty, [job("wma-a", "7-12", BASE + 10)], batch="redelivered")

    def found(text: str, **filters: object) -> list[str]:
        return [j["identity"] for j in job_reads.search_failed_jobs(empty, BASE, BASE + 3600, text, filters or None, 100)]

    assert found("7-12") == ["wma-a"]  # an id that is exactly a job's fwjr_id finds that job, once
    assert found("wma-b") == ["wma-b"]  # ... or its identity
    assert found("7-1") == ["wma-c", "wma-b", "wma-a"]  # no job has it as an id: a substring, newest first
    assert found("WMA-B") == ["wma-b"]  # not the exact id (case): the case-insensitive substring finds it
    assert found("T2_CH_CERN h") == ["wma-b", "wma-a"]  # a text across two columns (site, host)
    assert found("vocms0301") == ["wma-d"]
    assert found("x7-12Y") == ["wma-c"]
    assert found("7-12", site="T1_US_FNAL") == ["wma-c"]  # the exact id is filtered out: substring in what is left
    assert found("no-such-id") == []
    assert found("7") == ["wma-old"]  # an exact id outside the range still finds its job, not the range's substrings
    assert found("wma-old") == ["wma-old"]
    assert found("wma-ol") == []  # a substring is searched in the range only
    assert [j["identity"] for j in job_reads.search_failed_jobs(empty, BASE, BASE + 3600, None, None, 2)] == ["wma-d", "wma-c"]


def test_failed_jobs_by_first_error_and_step_errors_are_two_counts(empty: Store) -> None:
    """The error view's two counts over the same generated jobs: each failed job once, under its
    exit code and exit step (from `agg`); every step error, under its own step (from `errors`)."""
    from collections import Counter

    from fwjr.aggregate import Aggregator, error_dicts, row_dicts
    from tests.fixtures.browser import generated_jobs

    jobs = generated_jobs(1500, seed=7, start_ts=BASE, minutes=120)
    aggregator = Aggregator("minute")
    counted = [job for job in jobs if aggregator.add(job)]
    store_helpers.insert_aggregates(empty, row_dicts(aggregator.rows), "b")
    store_helpers.insert_errors(empty, error_dicts(aggregator.errors), "b")
    end = BASE + 3 * 3600

    first = Counter((j.exit_code, j.exit_step) for j in counted if j.failed)
    by_first = error_reads.first_error_matrix(empty, BASE, end, "exit_code", "step")
    assert {(c["exit_code"], c["step"]): c["count"] for c in by_first} == dict(first)
    assert (0, "") in first, "the generator writes failed jobs that carry no error (exit code 0)"

    steps = Counter((e.exit_code, e.step) for j in counted for e in j.errors)
    by_step = error_reads.error_matrix(empty, BASE, end, "exit_code", "step")
    assert {(c["exit_code"], c["step"]): c["count"] for c in by_step} == dict(steps)
    assert sum(steps.values()) > sum(first.values()) - first[(0, "")], "some jobs fail in more than one step"

    retried = Counter(j.exit_code for j in counted if j.failed and j.retry_count == 2)
    on_retry = error_reads.first_error_matrix(empty, BASE, end, "exit_code", "site")
    assert sum(c["count"] for c in on_retry) == sum(first.values())
    second = error_reads.error_matrix(empty, BASE, end, "exit_code", "retry_count", filters={"retry_count": 2})
    assert {c["retry_count"] for c in second} == ({2} if retried else set())
    with pytest.raises(ValueError, match="not kept per failed job"):
        error_reads.first_error_matrix(empty, BASE, end, "exit_code", "signature")
    with pytest.raises(ValueError, match="retry_count='two'"):
        error_reads.error_matrix(empty, BASE, end, "exit_code", "site", filters={"retry_count": "two"})
