"""The board's JSON API over a real embedded store seeded from generated FWJRs, served by waitress."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

import pytest

from fwjr.aggregate import regroup, row_dicts
from fwjr.bucket import iso
from fwjr.store import error_reads, reads
from fwjr.store.client import owner_rows
from tests.fixtures.browser import board, seeded  # noqa: F401  (fixtures)
from tests.fixtures.freshness import AgedBoard


def get(base: str, path: str, **params: object) -> tuple[int, dict]:
    url = f"{base}{path}?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def window(seeded: tuple) -> tuple[int, int]:
    now = seeded[3]
    return now - 4 * 3600, now + 60


def test_aggregates_are_the_raw_row_contract_the_aggregator_wrote(board: str, seeded: tuple) -> None:
    _, store, aggregator, _ = seeded
    start, end = window(seeded)
    status, body = get(board, "/api/v1/aggregates", **{"from": start, "to": end, "precision": "minute", "format": "rows"})
    assert status == 200
    assert body["rows"] == row_dicts(aggregator.rows)
    status, hourly = get(board, "/api/v1/aggregates", **{"from": iso(start), "to": iso(end), "precision": "hour"})
    assert hourly["rows"] == regroup(row_dicts(aggregator.rows), "hour")


def test_the_cli_reads_the_same_rows_through_the_api(board: str, seeded: tuple) -> None:
    settings, store, _, _ = seeded
    port = int(board.rsplit(":", 1)[1])
    start, end = window(seeded)
    served = settings.model_copy(update={"dashboard_port": port})
    through_api = owner_rows(served, "aggregates", {"from": start, "to": end, "precision": "hour", "format": "compact"})
    assert through_api == reads.aggregates(store, start, end, "hour")
    errors = owner_rows(served, "error-rows", {"from": start, "to": end, "precision": "hour"})
    assert errors == error_reads.error_rows(store, start, end, "hour") and errors


def test_filters_take_values_and_regular_expressions_as_data_never_as_sql(board: str, seeded: tuple) -> None:
    start, end = window(seeded)
    _, body = get(board, "/api/v1/aggregates", **{"from": start, "to": end, "precision": "hour", "site": "~^T1_"})
    assert body["rows"] and all(row["site"].startswith("T1_") for row in body["rows"])
    for hostile in ("' OR 1=1 --", "x') UNION SELECT 1 --", "{site:String}"):
        status, body = get(board, "/api/v1/aggregates", **{"from": start, "to": end, "precision": "hour", "site": hostile})
        assert (status, body["rows"]) == (200, [])


def test_performance_totals_and_groups_add_up_to_the_jobs_written(board: str, seeded: tuple) -> None:
    _, _, aggregator, _ = seeded
    start, end = window(seeded)
    status, body = get(board, "/api/v1/performance", **{"from": start, "to": end, "metric": "jobs", "x": "site", "by": ""})
    assert status == 200
    assert body["total"]["jobs"] == aggregator.jobs
    pages = [body]
    page = 0
    while pages[-1]["has_more"]:
        page += 1
        pages.append(get(board, "/api/v1/performance", **{"from": start, "to": end, "metric": "jobs", "x": "site", "by": "", "page": page})[1])
    assert sum(g["value"] for p in pages for g in p["groups"]) == aggregator.jobs


def test_means_are_job_weighted(board: str, seeded: tuple) -> None:
    _, _, aggregator, _ = seeded
    start, end = window(seeded)
    rows = row_dicts(aggregator.rows)
    expected = sum(r["PeakValueRss_sum"] for r in rows) / sum(r["PeakValueRss_count"] for r in rows) / 1e6
    _, body = get(board, "/api/v1/performance", **{"from": start, "to": end, "metric": "PeakValueRss", "x": "jobtype", "by": ""})
    assert body["stat"] == "avg"
    assert body["total"]["value"] == pytest.approx(expected, rel=1e-9)
    assert body["total"]["covered"] == sum(r["PeakValueRss_count"] for r in rows)


def test_a_split_time_view_states_the_total_of_the_whole_selection(board: str, seeded: tuple) -> None:
    """The split's ranking query carries the total; it must be the unsplit view's total, every site counted."""
    _, _, aggregator, _ = seeded
    start, end = window(seeded)
    rows = row_dicts(aggregator.rows)
    expected = sum(r["PeakValueRss_sum"] for r in rows) / sum(r["PeakValueRss_count"] for r in rows) / 1e6
    view = {"from": start, "to": end, "metric": "PeakValueRss", "x": "time"}
    _, whole = get(board, "/api/v1/performance", **view, by="")
    _, split = get(board, "/api/v1/performance", **view, by="site")
    assert split["total"] == whole["total"]
    assert whole["total"]["value"] == pytest.approx(expected, rel=1e-9)
    assert whole["total"]["jobs"] == aggregator.jobs


def test_a_time_axis_returns_buckets_within_the_range(board: str, seeded: tuple) -> None:
    start, end = window(seeded)
    _, body = get(board, "/api/v1/performance", **{"from": start, "to": end, "metric": "failed", "x": "time", "by": "site"})
    assert body["shape"] == "time" and body["precision"] == "minute"
    assert body["groups"] and all(start - 60 <= g["bucket"] < end for g in body["groups"])
    assert {g["site"] for g in body["groups"]} <= set(body["by_values"])


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"metric": "bogus"}, "metric='bogus'"),
        ({"x": "colour"}, "x='colour'"),
        ({"metric": "PeakValueRss", "stat": "sum"}, "stat='sum'"),
        ({"exit_code": "abc"}, "exit_code='abc'"),
        ({"from": "last tuesday", "to": "1"}, "from='last tuesday'"),
    ],
)
def test_bad_parameters_answer_400_naming_the_value(board: str, params: dict, named: str) -> None:
    status, body = get(board, "/api/v1/performance", **params)
    assert status == 400
    assert named in body["error"]


def test_suggestions_list_seen_values_and_describe_exit_codes(board: str, seeded: tuple) -> None:
    start, end = window(seeded)
    _, body = get(board, "/api/v1/suggestions", key="exit_code", **{"from": start, "to": end})
    codes = {v["value"]: v["label"] for v in body["values"]}
    assert 8021 in codes and codes[8021].startswith("8021: FileReadError")
    _, sites = get(board, "/api/v1/suggestions", key="site", prefix="T2_", **{"from": start, "to": end})
    assert sites["values"] and all(v["value"].startswith("T2_") for v in sites["values"])


def test_exit_codes_come_with_their_procedure(board: str) -> None:
    _, body = get(board, "/api/v1/exit-codes", code="8021,99999")
    first, unknown = body["exit_codes"]
    assert first["procedure"]["action"] == "ACDC"
    assert unknown == {"code": 99999, "description": "unknown exit code"}


def test_health_reports_when_the_last_fwjr_was_seen(board: str, seeded: tuple) -> None:
    _, store, _, _ = seeded
    status, body = get(board, "/api/v1/health")
    assert status == 200 and body["status"] == "ok"
    assert body["last_fwjr"] == reads.last_seen(store)
    assert body["age_s"] >= 0


def test_freshness_is_ok_then_amber_at_two_minutes_then_red_at_ten(tmp_path) -> None:
    """An empty store is "none"; then each seed adds a newer FWJR, `age` s before now. Ages sit on a
    threshold or 10 s below it: the level only grows while the board answers, and answering takes
    far less than 10 s once seeded."""
    board = AgedBoard(tmp_path / "home")
    try:
        status, body = get(board.url, "/api/v1/health")
        assert (status, body["last_fwjr"], body["age_s"], body["freshness"]) == (200, None, None, "none")
        for age, level in ((86400, "red"), (600, "red"), (590, "amber"), (120, "amber"), (110, "ok"), (0, "ok")):
            newest = board.seed(age)
            _, body = get(board.url, "/api/v1/health")
            assert (body["last_fwjr"], body["freshness"]) == (newest, level), (age, body)
            assert body["age_s"] >= age
    finally:
        board.close()


def test_failed_jobs_are_found_by_fwjr_id(board: str) -> None:
    _, body = get(board, "/api/v1/jobs/failed", q="hostile-fwjr-1", tf="24h")
    assert [job["identity"] for job in body["jobs"]] == ["hostile-job-1"]
    assert body["jobs"][0]["exit_code_description"].startswith("FileReadError")


def test_the_error_matrix_counts_every_step_error(board: str, seeded: tuple) -> None:
    _, _, aggregator, _ = seeded
    start, end = window(seeded)
    _, body = get(board, "/api/v1/errors", rows="workflow", columns="site", limit=10000, **{"from": start, "to": end})
    assert sum(c["count"] for c in body["cells"]) == sum(aggregator.errors.values())


def test_a_taken_port_is_reported_with_the_setting_to_change(board: str, seeded: tuple) -> None:
    from dashboard.server import serve_in_thread

    settings, store, _, _ = seeded
    port = int(board.rsplit(":", 1)[1])
    with pytest.raises(RuntimeError, match=f"127.0.0.1:{port}.*FWJR_DASHBOARD_PORT"):
        serve_in_thread(settings, store, port=port)


def test_every_page_of_a_ranking_states_the_same_total(board: str, seeded: tuple) -> None:
    _, _, aggregator, _ = seeded
    start, end = window(seeded)
    for page in (0, 1, 999):
        _, body = get(board, "/api/v1/performance", **{"from": start, "to": end, "metric": "failure_rate", "x": "site", "by": "", "page": page})
        assert body["total"]["jobs"] == aggregator.jobs
        rows = row_dicts(aggregator.rows)
        assert body["total"]["value"] == pytest.approx(sum(r["failed"] for r in rows) / aggregator.jobs)


def test_the_compact_format_holds_the_same_rows(board: str, seeded: tuple) -> None:
    start, end = window(seeded)
    _, rows = get(board, "/api/v1/aggregates", **{"from": start, "to": end, "precision": "hour"})
    status, compact = get(board, "/api/v1/aggregates", **{"from": start, "to": end, "precision": "hour", "format": "compact"})
    assert status == 200 and rows["rows"]
    assert [dict(zip(compact["columns"], row)) for row in compact["rows"]] == rows["rows"]
    status, body = get(board, "/api/v1/aggregates", **{"from": start, "to": end, "format": "csv"})
    assert status == 400 and "format" in body["error"]


def test_the_triage_says_how_old_its_decisions_are_and_a_filter_selects_whole_decisions(board: str, seeded: tuple) -> None:
    settings = seeded[0]
    status, body = get(board, "/api/v1/triage", tf="24h")
    assert status == 200 and body["workflows"]
    assert body["refresh_seconds"] == settings.triage_refresh_seconds, "a preset is served from its snapshot"
    assert body["to"] == body["as_of"] and body["to"] - body["from"] == 86400 and body["age_seconds"] >= 0
    whole = {d["workflow"]: d for d in body["workflows"]}
    site = next(iter(body["workflows"][0]["evidence"]["site_status"]))
    status, at_site = get(board, "/api/v1/triage", tf="24h", site=site)
    assert status == 200 and at_site["workflows"] and len(at_site["workflows"]) <= len(whole)
    assert all(d == whole[d["workflow"]] for d in at_site["workflows"]), "each listed with its whole decision"
    assert all(site in d["evidence"]["site_status"] for d in at_site["workflows"]), "each fails at the site"
    start, end = window(seeded)
    status, custom = get(board, "/api/v1/triage", **{"from": start, "to": end})
    assert status == 200 and custom["refresh_seconds"] is None and (custom["from"], custom["to"]) == (start, end)
    assert {d["workflow"] for d in custom["workflows"]} == set(whole), "every failing workflow of the seed, either way"
