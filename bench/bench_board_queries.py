"""Latency of every board page's queries over a year-long store (p50/p95 per query).

Builds (or reuses, with --home) an embedded store holding a year of synthesized aggregate
rows laid out as the TTL ladder keeps them: minute rows for the last `minute_days`, hour
rows up to `hour_days`, day rows up to a year; 50 sites, 2,000 workflows (3 tasks each),
60 exit codes; error counts derived from the failed rows; failed-job rows for the jobs
retention. Rows are synthesized directly (not from FWJRs: a year is billions of jobs).

Then runs each page's queries (the same fwjr.store calls the pages and API make, with
varying filter values; an explorer view is its 1-3 queries together), and the JSON API's answers
(each endpoint that reads the store, serialization included), --repeat times, and prints p50/p95 per query, against a baseline
measured in the same run: a full scan of the aggregate table's `jobs` column
(its sum per job state over all time; a grouped read, so no projection can answer it). Target p95 < 100 ms per query; above 300 ms is a defect.
The triage queue and the workflow page's decision are measured as the pages get them, from the
board's snapshot of the window (fwjr.triage.snapshot; its first computation is the untimed warm-up
call), also while another thread computes a triage as a background refresh does; the direct
triage (a refresh's cost, a custom range's) is measured after the pages and not held to the target.
The bulk export (`fwjr query aggregates`, the API's aggregates answer) is measured after the
pages, with its rows per second, and is not held to that target: no page makes it.

    .venv/bin/python bench/bench_board_queries.py [--scale 1.0] [--repeat 20] [--home DIR] [--only TEXT]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fwjr.config import Settings  # noqa: E402
from fwjr.metrics import ALL_METRICS  # noqa: E402
from fwjr.model import SCOPE_KEYS  # noqa: E402
from fwjr.store import (
    error_reads,  # noqa: E402
    job_reads,  # noqa: E402
    schema,  # noqa: E402
    sql,  # noqa: E402
)
from fwjr.store import reads as store_reads  # noqa: E402
from fwjr.store.connection import Store, connect  # noqa: E402
from fwjr.store.migrate import migrate  # noqa: E402
from fwjr.triage.decide import triage_thresholds
from tests.fixtures import store_helpers  # noqa: E402

TARGET_MS = 100
NAME_WIDTH = 72
DEFECT_MS = 300
SITES, WORKFLOWS, TASKS, CODES = 50, 2000, 3, 60
HOSTS, JOBTYPES, ERAS, CAMPAIGNS = 30, ("Production", "Processing", "Merge", "LogCollect", "Cleanup", "Harvesting"), 12, 25
STEPS = ("cmsRun1", "stageOut1", "logArch1")
FAILURE_SHARE = 0.12
CHUNK = 300_000  # rows per insert; inserts never straddle a month partition, so each leaves one part
# Rows per bucket at each grain, at --scale 1 (about 4M aggregate rows in all).
ROWS_PER_BUCKET = {"minute": 100, "hour": 1500, "day": 8000}
JOBS_PER_ROW = {"minute": 2, "hour": 8, "day": 60}
FAILED_JOB_ROWS = 200_000
# The board's snapshots are not refreshed during the run (each would compete with the queries
# timed after it); the cost of a refresh, and the pages' while one runs, are measured on purpose.
SNAPSHOT_REFRESH_SECONDS = 24 * 3600.0


class Catalog:
    """Names with realistic shapes and skew: a few workflows and sites carry most jobs."""

    def __init__(self, rng: np.random.Generator) -> None:
        tiers = ["T1"] * 7 + ["T2"] * 40 + ["T3"] * 3
        countries = ["US", "DE", "IT", "FR", "UK", "ES", "CH", "RU", "BE", "KR"]
        self.sites = np.array([f"{t}_{countries[i % 10]}_Site{i:02d}" for i, t in enumerate(tiers)])
        self.workflows = np.array([f"pdmvserv_task_{p}-Run3Summer24wmLHEGS-{i:05d}__v1_T_2611{i % 28:02d}_{i * 7919 % 1000000:06d}"
                                   for i, p in zip(range(WORKFLOWS), ["EXO", "SUS", "HIG", "BTV", "JME", "MUO", "TOP", "SMP"] * WORKFLOWS)])
        self.tasks = np.array([["GEN-SIM", "DIGIPremix", "RECO"][k] for k in range(TASKS)])
        self.hosts = np.array([f"vocms{300 + i:04d}.cern.ch" for i in range(HOSTS)])
        self.jobtypes = np.array(JOBTYPES)
        self.codes = np.array([8001, 8020, 8021, 8028, 50660, 50664, 71304, 84, 85, 92] + [60300 + i for i in range(CODES - 10)])
        self.eras = np.array([f"Run3Summer{22 + i // 4}{'ABCD'[i % 4]}" for i in range(ERAS)])
        self.campaigns = np.array([f"Campaign{i:02d}" for i in range(CAMPAIGNS)])
        self.site_p = _zipf(SITES, 1.1, rng)
        self.workflow_p = _zipf(WORKFLOWS, 1.05, rng)
        self.code_p = _zipf(CODES, 1.2, rng)


def _zipf(n: int, a: float, rng: np.random.Generator) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1) ** a
    rng.shuffle(weights)
    return weights / weights.sum()


def synthesize(rng: np.random.Generator, catalog: Catalog, buckets: np.ndarray, grain: str, scale: float) -> dict[str, list]:
    """Aggregate rows, column-wise, for the given bucket starts at one grain."""
    per_bucket = max(int(ROWS_PER_BUCKET[grain] * scale), 1)
    n = len(buckets) * per_bucket
    failed_row = rng.random(n) < FAILURE_SHARE
    jobs = rng.poisson(JOBS_PER_ROW[grain], n) + 1
    workflow = rng.choice(WORKFLOWS, n, p=catalog.workflow_p)
    code = np.where(failed_row, catalog.codes[rng.choice(CODES, n, p=catalog.code_p)], 0)
    columns: dict[str, Any] = {
        "bucket": np.repeat(buckets, per_bucket),
        "workflow": catalog.workflows[workflow],
        "task": np.char.add(np.char.add(np.char.add("/", catalog.workflows[workflow]), "/"), catalog.tasks[rng.integers(0, TASKS, n)]),
        "site": catalog.sites[rng.choice(SITES, n, p=catalog.site_p)],
        "host": catalog.hosts[rng.integers(0, HOSTS, n)],
        "jobtype": catalog.jobtypes[rng.integers(0, len(JOBTYPES), n)],
        "jobstate": np.where(failed_row, "jobfailed", "success"),
        "exit_code": code,
        "exit_step": np.where(failed_row, np.array(STEPS)[rng.integers(0, len(STEPS), n)], ""),
        "acquisition_era": catalog.eras[rng.integers(0, ERAS, n)],
        "campaign": catalog.campaigns[rng.integers(0, CAMPAIGNS, n)],
        "jobs": jobs,
        "failed": np.where(failed_row, jobs, 0),
        "eff_outliers": (rng.random(n) < 0.01).astype(np.int64),
    }
    for index, metric in enumerate(ALL_METRICS):
        count = jobs - (rng.random(n) < 0.05)
        mean = (index + 1) * 10.0
        columns[f"{metric.name}_sum"] = (count * mean * rng.uniform(0.5, 1.5, n) * 1e6).astype(np.int64)
        columns[f"{metric.name}_count"] = count
    columns["batch"] = np.full(n, "bench")
    return columns


def insert_columns(store: Store, table: str, names: tuple[str, ...], columns: dict[str, Any]) -> int:
    total = len(columns[names[0]])
    for first in range(0, total, CHUNK):
        store.insert_columns(table, names, [columns[c][first:first + CHUNK].tolist() for c in names])
    return total


def error_columns(columns: dict[str, Any]) -> dict[str, Any]:
    """Error counts of the failed rows: the keys of the global error view."""
    failed = columns["failed"] > 0
    return {
        "bucket": columns["bucket"][failed], "workflow": columns["workflow"][failed], "task": columns["task"][failed],
        "step": columns["exit_step"][failed], "site": columns["site"][failed], "exit_code": columns["exit_code"][failed],
        "retry_count": np.zeros(int(failed.sum()), dtype=np.int64), "signature": np.full(int(failed.sum()), "", dtype=object),
        "count": columns["failed"][failed], "batch": columns["batch"][failed],
    }


def job_columns(rng: np.random.Generator, catalog: Catalog, now: int, days: int, n: int) -> dict[str, Any]:
    """Failed-job rows for the drill-down pages, spread over the jobs retention."""
    workflow = rng.choice(WORKFLOWS, n, p=catalog.workflow_p)
    code = catalog.codes[rng.choice(CODES, n, p=catalog.code_p)]
    ids = np.char.add("bench-", np.arange(n).astype(str))
    return {
        "identity": ids, "ts": now - rng.integers(0, days * 86400, n), "workflow": catalog.workflows[workflow],
        "task": np.char.add(np.char.add(np.char.add("/", catalog.workflows[workflow]), "/"), catalog.tasks[rng.integers(0, TASKS, n)]),
        "site": catalog.sites[rng.choice(SITES, n, p=catalog.site_p)], "host": catalog.hosts[rng.integers(0, HOSTS, n)],
        "jobtype": catalog.jobtypes[rng.integers(0, len(JOBTYPES), n)], "jobstate": np.full(n, "jobfailed"),
        "exit_code": code, "exit_step": np.array(STEPS)[rng.integers(0, len(STEPS), n)],
        "acquisition_era": catalog.eras[rng.integers(0, ERAS, n)], "campaign": catalog.campaigns[rng.integers(0, CAMPAIGNS, n)],
        "wn_name": np.char.add("wn", rng.integers(0, 5000, n).astype(str)), "fwjr_id": np.char.add("fwjr-", np.arange(n).astype(str)),
        "agent_ver": np.full(n, "2.3.4"), "retry_count": rng.integers(0, 4, n), "failed": np.ones(n, dtype=np.int64), "wall_time": rng.uniform(60, 40000, n),
        "cpu_efficiency": rng.uniform(0, 1, n), "core_hours": rng.uniform(0.1, 30, n),
        "error_type": np.full(n, "Fatal Exception"),
        "error_details": np.char.add("An exception of category 'FileOpenError' occurred while opening root://eoscms//store/mc/file", np.arange(n).astype(str)),
        "errors": np.full(n, "[]"), "log_archive": np.char.add("/store/unmerged/logs/prod/", ids),
        "batch": np.full(n, "bench"), "src_partition": np.full(n, -1), "src_offset": np.full(n, -1),
    }


def by_month(buckets: np.ndarray) -> list[np.ndarray]:
    """Bucket starts split at month boundaries (the tables' partitions)."""
    months = buckets.astype("datetime64[s]").astype("datetime64[M]")
    cuts = np.flatnonzero(months[1:] != months[:-1]) + 1
    return [part for part in np.split(buckets, cuts) if len(part)]


def build(store: Store, settings: Settings, now: int, scale: float, seed: int) -> int:
    """Fill the store along the precision ladder; returns the aggregate rows written."""
    rng = np.random.default_rng(seed)
    catalog = Catalog(rng)
    minute_start = now - now % 60 - settings.minute_days * 86400
    hour_start = now - now % 3600 - settings.hour_days * 86400
    day_start = now - now % 86400 - 365 * 86400
    grains = (
        ("day", np.arange(day_start, hour_start - hour_start % 86400, 86400)),
        ("hour", np.arange(hour_start, minute_start - minute_start % 3600, 3600)),
        ("minute", np.arange(minute_start - minute_start % 3600, now - now % 60, 60)),
    )
    agg_names = schema.AGG_COLUMNS
    written = 0
    for grain, buckets in grains:
        step = max(CHUNK // max(int(ROWS_PER_BUCKET[grain] * scale), 1), 1)
        for month in by_month(buckets):
            errors = []
            for first in range(0, len(month), step):
                columns = synthesize(rng, catalog, month[first:first + step], grain, scale)
                written += insert_columns(store, "agg", agg_names, columns)
                errors.append(error_columns(columns))
            insert_columns(store, "errors", schema.ERROR_COLUMNS, {c: np.concatenate([e[c] for e in errors]) for c in schema.ERROR_COLUMNS})
        print(f"  {grain}: {len(buckets)} buckets, {written:,} aggregate rows so far", flush=True)
    insert_columns(store, "jobs", schema.JOB_COLUMNS, job_columns(rng, catalog, now, settings.jobs_days, int(FAILED_JOB_ROWS * scale)))
    settle(store)
    return written


def settle(store: Store, limit_s: int = 600) -> None:
    """Wait until background merges stop, so they do not run during the measurements."""
    started = time.perf_counter()
    quiet = 0
    while time.perf_counter() - started < limit_s and quiet < 3:
        quiet = quiet + 1 if store_helpers.merges_in_progress(store) == 0 else 0
        time.sleep(1)
    state = "settled" if quiet >= 3 else f"still merging after {limit_s} s"
    print(f"  background merges {state} ({time.perf_counter() - started:.0f} s)", flush=True)


def sample_names(store: Store, now: int) -> tuple[list[str], list[str]]:
    """Sites and workflows of the last week that the queries' filters pick from."""
    return store_reads.distinct_values(store, "site", now - 7 * 86400, now, "", 50), store_reads.distinct_values(store, "workflow", now - 7 * 86400, now, "", 500)


def page_queries(
    store: Store, settings: Settings, now: int, rng: random.Random, client: Any, sites: list[str], workflows: list[str]
) -> dict[str, Callable[[], Any]]:
    """Every page's queries, as the pages call them; filter values vary per call. The triage
    pages read the board's snapshots (create_app bound them with the store before this is called)."""
    from dashboard import performance, timeframe
    from dashboard.state import View
    from fwjr.triage.sites import site_statuses
    from fwjr.triage.tasks import task_stats

    ladder = sql.ladder(settings)
    day, week, month, year = now - 86400, now - 7 * 86400, now - 30 * 86400, now - 365 * 86400

    def explore(**view: Any) -> Callable[[], Any]:
        return lambda: performance.explore(store, View(**view), now, ladder)

    def window(seconds: int) -> tuple[int, int, str]:
        return now - seconds, now, timeframe.display_precision(now - seconds, now, now, ladder)

    queries: dict[str, Callable[[], Any]] = {}
    for label, seconds in (("1h", 3600), ("24h", 86400), ("7d", 7 * 86400)):
        start, end, precision = window(seconds)
        queries[f"overview {label}: headline numbers"] = lambda s=start, e=end: store_reads.headline(store, s, e)
        queries[f"overview {label}: series ({precision})"] = lambda s=start, e=end, p=precision: store_reads.headline_series(store, s, e, p)
        queries[f"overview {label}: top exit codes"] = lambda s=start, e=end: store_reads.top(store, s, e, "exit_code", "failed", 9)
        queries[f"overview {label}: top sites"] = lambda s=start, e=end: store_reads.top(store, s, e, "site", "failed", 8)
        queries[f"overview {label}: top workflows"] = lambda s=start, e=end: store_reads.top(store, s, e, "workflow", "failed", 8)
    queries["overview: last FWJR seen"] = lambda: store_reads.last_seen(store)
    queries["explorer 7d: jobs by site x jobstate [view: 2 queries]"] = explore(tf="last7d", x="site", by="jobstate")
    queries["explorer 30d: failed, exit_code x workflow [view: 2 q]"] = explore(tf="last30d", x="exit_code", by="workflow", metric="failed")
    queries["explorer 30d: PeakValueRss avg, time by site [view: 2 q]"] = explore(tf="last30d", x="time", by="site", metric="PeakValueRss", stat="avg")
    queries["explorer year: CPU efficiency over time [view: 2 q]"] = explore(tf="custom", start=str(year), end=str(now), x="time", by="", metric="cpu_efficiency")
    queries["explorer year: jobs by workflow, page 3 [view: 1 q]"] = explore(tf="custom", start=str(year), end=str(now), x="workflow", by="", page=3)
    queries["explorer 7d: site regex, jobtype x exit_code [view: 2 q]"] = lambda: performance.explore(
        store, View(filters={"site": "~^T1_"}, tf="last7d", x="jobtype", by="exit_code"), now, ladder)
    queries["explorer 30d: one workflow, wall time by site [view: 1 q]"] = lambda: performance.explore(
        store, View(filters={"workflow": rng.choice(workflows)}, tf="last30d", x="site", by="", metric="wall_time"), now, ladder)
    queries["explorer: suggestions (1 key)"] = lambda: store_reads.distinct_values(store, rng.choice(SCOPE_KEYS), week, now, "", 30)
    queries["errors 24h: workflow x site totals"] = lambda: error_reads.error_matrix(store, day, now, "workflow", "site")
    queries["errors 7d: workflow x site split by exit_code"] = lambda: error_reads.error_matrix(
        store, week, now, "workflow", "site", "exit_code", {"site": sites[:12], "workflow": workflows[:12]})
    queries["errors 7d: pie contents"] = lambda: error_reads.error_matrix(
        store, week, now, "exit_code", "task", None, {"workflow": rng.choice(workflows), "site": rng.choice(sites)}, 500)
    queries["workflow 7d: exit code x site per step"] = lambda: error_reads.error_matrix(
        store, week, now, "exit_code", "site", "step", {"workflow": rng.choice(workflows)})
    queries["workflow 7d: error snippets"] = lambda: error_reads.error_snippets(store, week, now, {"workflow": rng.choice(workflows)})
    queries["failed 24h: newest 200"] = lambda: job_reads.search_failed_jobs(store, day, now, None, None, 200)
    queries["failed 7d: search by fwjr_id"] = lambda: job_reads.search_failed_jobs(store, week, now, f"fwjr-{rng.randrange(1000)}", None, 200)
    queries["failed 7d: search by error text (few matches)"] = lambda: job_reads.search_failed_jobs(store, week, now, f"file{rng.randrange(1000, 9999)}", None, 200)
    queries["failed 7d: search by host (thousands of matches)"] = lambda: job_reads.search_failed_jobs(store, week, now, f"vocms{rng.randrange(300, 330):04d}", None, 200)
    queries["failed 24h: site + exit code filter"] = lambda: job_reads.search_failed_jobs(
        store, day, now, None, {"site": rng.choice(sites), "exit_code": 8021}, 200)
    queries.update(triage_page_queries(rng, sites, workflows))
    queries["triage 24h: site status"] = lambda: site_statuses(store, day, now, triage_thresholds(settings).site)
    queries["workflow 24h: tasks, wall time quantiles (jobs rows)"] = lambda: task_stats(store, day, now, rng.choice(workflows))
    queries["workflow 7d: tasks, wall time quantiles (jobs rows)"] = lambda: task_stats(store, week, now, rng.choice(workflows))
    queries.update(api_queries(client, now, rng, sites, workflows))
    return queries


def triage_page_queries(rng: random.Random, sites: list[str], workflows: list[str]) -> dict[str, Callable[[], Any]]:
    """The triage queue and the workflow page's decision as the pages get them: from the board's
    snapshot of the window (its first call computes it; measure() makes that call before timing).
    The queue's is its callback's body: the snapshot's decisions selected and grouped, the dicts the
    page keeps and the grid's rows."""
    from dashboard import decisions
    from dashboard.pages import triage as queue_page

    return {
        "triage queue 24h: every failing workflow (snapshot)": lambda: queue_page._body("?tf=24h"),
        "triage queue 7d: one site's workflows (snapshot)": lambda: queue_page._body(f"?tf=7d&site={rng.choice(sites)}"),
        "workflow 24h: its triage decision + similar (snapshot)": lambda: decisions.decision_of("24h", 0, 0, rng.choice(workflows)),
    }


def queue_answer_queries() -> dict[str, Callable[[], Any]]:
    """What the queue's callback does beyond its decisions and rows: the JSON Dash sends (the rows
    and the kept decisions, ~2.8 MB for a busy day). Not its query; reported beside it."""
    from plotly.io.json import to_json_plotly  # what Dash encodes a callback's outputs with

    from dashboard.pages import triage as queue_page

    def answer() -> str:
        stored, rows = queue_page._body("?tf=24h")[:2]
        return to_json_plotly([rows, stored])

    return {"triage queue 24h: + the callback's JSON": answer}


def refresh_queries(store: Store, settings: Settings, now: int, rng: random.Random, sites: list[str], workflows: list[str]) -> dict[str, Callable[[], Any]]:
    """The direct computations: what a snapshot refresh costs (in a background thread, not in a
    page view), what a custom range costs, and the page queries of before the snapshots."""
    from fwjr.triage.report import similar_to, triage

    day, week = now - 86400, now - 7 * 86400

    def decided(workflow: str) -> tuple:
        """The workflow page's decision in a custom range: its own triage and its similar workflows."""
        return triage(store, day, now, {"workflow": workflow}, settings=settings, now=now), similar_to(store, day, now, workflow, settings=settings)

    return {
        "refresh: triage 24h, every failing workflow (direct)": lambda: triage(store, day, now, settings=settings, now=now),
        "refresh: triage 7d, every failing workflow (direct)": lambda: triage(store, week, now, settings=settings, now=now),
        "before: triage 7d narrowed to one site (direct)": lambda: triage(store, week, now, {"site": rng.choice(sites)}, settings=settings, now=now),
        "custom range: workflow 24h, its triage + similar (direct)": lambda: decided(rng.choice(workflows)),
    }


def during_refresh(store: Store, settings: Settings, now: int, queries: dict[str, Callable[[], Any]], repeat: int) -> dict[str, list[float]]:
    """The snapshot-served page queries timed while another thread computes the 24 h triage over
    and over, as a background refresh does (it holds the GIL between its store reads)."""
    from fwjr.triage.report import triage

    stop = threading.Event()

    def refresh() -> None:
        while not stop.is_set():
            triage(store, now - 86400, now, settings=settings, now=now)

    worker = threading.Thread(target=refresh, name="bench-refresh", daemon=True)
    worker.start()
    try:
        return {name: measure(function, repeat) for name, function in queries.items()}
    finally:
        stop.set()
        worker.join()


def api_queries(client: Any, now: int, rng: random.Random, sites: list[str], workflows: list[str]) -> dict[str, Callable[[], Any]]:
    """The JSON API's answers (query and serialization, through Flask's test client, no socket),
    one call per endpoint that reads the store; the bulk export is measured apart (export_queries)."""
    from urllib.parse import urlencode

    def get(path: str, **params: Any) -> Callable[[], bytes]:
        def call() -> bytes:
            values = {k: (v() if callable(v) else v) for k, v in params.items()}
            response = client.get(f"/api/v1/{path}?{urlencode(values)}")
            if response.status_code != 200:
                raise RuntimeError(f"GET {path} {values}: {response.status_code} {response.get_data()[:200]!r}")
            return response.get_data()
        return call

    hour_ago = now - now % 3600 - 3600
    return {
        "api: GET /performance 30d failed, exit_code x workflow": get("performance", tf="last30d", x="exit_code", by="workflow", metric="failed"),
        "api: GET /totals 24h": get("totals", tf="24h"),
        "api: GET /triage 24h": get("triage", tf="24h"),
        "api: GET /suggestions site, 30d": get("suggestions", key="site"),
        "api: GET /errors 7d workflow x site by exit_code": get("errors", tf="last7d", rows="workflow", columns="site", split="exit_code"),
        "api: GET /jobs/failed 24h, one site": get("jobs/failed", tf="24h", site=lambda: rng.choice(sites)),
        "api: GET /aggregates 1 hour at minute, one workflow": get(
            "aggregates", **{"from": hour_ago, "to": hour_ago + 3600}, precision="minute", workflow=lambda: rng.choice(workflows), format="compact"),
    }


def export_queries(store: Store, settings: Settings, now: int) -> dict[str, Callable[[], Any]]:
    """The bulk export of a day of a month-old partition at hour grain (~36k rows x 80 columns):
    `fwjr query aggregates` and the API's aggregates answer, which no page calls. Measured
    beside the pages but not held to their target: it is a data transfer, and it reads the whole
    month partition (`agg` is sorted scope-first; see docs/board.md). As the CLI gets it: the
    query alone, the API's whole answer (query and serialization; Flask's test client, no socket),
    and for format=compact also the CLI's decoding into row dicts."""
    from dashboard.server import create_app

    start = now - 30 * 86400
    end = start + 86400

    client = create_app(settings, store).server.test_client()
    path = f"/api/v1/aggregates?from={start}&to={end}&precision=hour&format="

    def get(fmt: str) -> bytes:
        response = client.get(path + fmt)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path + fmt}: {response.status_code} {response.get_data()[:200]!r}")
        return response.get_data()

    def cli_rows() -> list[dict]:
        import orjson

        body = orjson.loads(get("compact"))
        return [dict(zip(body["columns"], row)) for row in body["rows"]]

    return {
        "store_reads.aggregates 1 day at hour": lambda: store_reads.aggregates(store, start, end, "hour"),
        "api: GET /aggregates 1 day, format=rows (answer only)": lambda: get("rows"),
        "api: GET /aggregates 1 day, format=compact (answer only)": lambda: get("compact"),
        "api: CLI read path, compact answer decoded to rows": cli_rows,
    }


def measure(function: Callable[[], Any], repeat: int) -> list[float]:
    function()  # warm: first touch of the parts
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return times


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else values[0]


def report(name: str, times: list[float], base95: float, held: bool = True) -> float:
    """Print one query's line (flagged against the target when `held` to it); answers its p95."""
    high = p95(times)
    flag = ("  DEFECT" if high > DEFECT_MS else ("  over target" if high > TARGET_MS else "")) if held else ""
    print(f"{name:{NAME_WIDTH}s} {statistics.median(times):8.1f} {high:8.1f} {high / base95:9.2f}{flag}")
    return high


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="rows per bucket factor (1.0 = about 4M aggregate rows)")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--home", type=Path, help="keep the store here and reuse it on the next run")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", default="", help="run only the queries whose name contains this text")
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="bench-board-"))
    settings = Settings(home=home, triage_refresh_seconds=SNAPSHOT_REFRESH_SECONDS)
    store = connect(settings)
    migrate(store)
    now = int(time.time())
    try:
        if not store_helpers.row_count(store, "agg"):
            started = time.perf_counter()
            written = build(store, settings, now, args.scale, args.seed)
            print(f"built {written:,} aggregate rows in {time.perf_counter() - started:.0f} s under {home}")
        else:
            settle(store)
        rows, errors, jobs = (store_helpers.row_count(store, t) for t in ("agg", "errors", "jobs"))
        print(f"store: {rows:,} aggregate rows, {errors:,} error rows, {jobs:,} job rows; {args.repeat} runs per query\n")
        from dashboard.server import create_app
        from streams.gc_tuning import collect_less_often

        client = create_app(settings, store).server.test_client()
        collect_less_often()  # as every process serving the board does (dashboard/server.py)
        rng = random.Random(args.seed)
        sites, workflows = sample_names(store, now)
        baseline = measure(lambda: store_reads.top(store, 0, now + 86400, "jobstate", "jobs", 2), args.repeat)
        base95 = p95(baseline)
        print(f"{'query':{NAME_WIDTH}s} {'p50 ms':>8s} {'p95 ms':>8s} {'p95/base':>9s}")
        report("baseline: sum(jobs) by jobstate, whole table", baseline, base95, held=False)
        worst = 0.0
        for name, function in page_queries(store, settings, now, rng, client, sites, workflows).items():
            if args.only in name:
                worst = max(worst, report(name, measure(function, args.repeat), base95))
        served = {f"{name} [refresh running]": f for name, f in triage_page_queries(rng, sites, workflows).items() if args.only in f"{name} [refresh running]"}
        if served:
            print("\nthe same, while another thread computes the 24 h triage (what a background refresh does):")
            for name, times in during_refresh(store, settings, now, served, args.repeat).items():
                worst = max(worst, report(name, times, base95))
        verdict = "defect" if worst > DEFECT_MS else ("over target" if worst > TARGET_MS else "within target")
        print(f"\nworst page query p95 {worst:.1f} ms: {verdict} (target < {TARGET_MS} ms, defect > {DEFECT_MS} ms)")
        direct = {**queue_answer_queries(), **refresh_queries(store, settings, now, rng, sites, workflows)}
        direct = {name: function for name, function in direct.items() if args.only in name}
        if direct:
            print("\nnot page queries (not held to the target): the queue callback's rows and JSON, a snapshot refresh\n"
                  "(a background thread), a custom range, and the triage queries the pages made before the snapshots:")
            for name, function in direct.items():
                report(name, measure(function, args.repeat), base95, held=False)
        exports = {name: function for name, function in export_queries(store, settings, now).items() if args.only in name}
        if exports:
            rows = len(store_reads.aggregates(store, now - 30 * 86400, now - 29 * 86400, "hour"))
            print(f"\nbulk export, no page's query (not held to the page target), {rows:,} rows:")
            for name, function in exports.items():
                times = measure(function, args.repeat)
                print(f"{name:{NAME_WIDTH}s} {statistics.median(times):8.1f} {p95(times):8.1f} {p95(times) / base95:9.2f}"
                      f"  {rows / statistics.median(times) * 1000:,.0f} rows/s")
        return 1 if worst > DEFECT_MS else 0
    finally:
        store.close()
        if args.home is None:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
