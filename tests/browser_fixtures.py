"""Fixtures for the board's tests: a real embedded store seeded from generated FWJRs, the
board served by waitress on a free port, and headless Chromium through selenium.

Seeding follows the live path's own steps (generator -> reader.to_job -> Aggregator at
minute precision -> the sink's row shapes), so the board is tested on the rows the stream writes.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from fwjr.aggregate import Aggregator, error_dicts, row_dicts
from fwjr.config import Settings
from fwjr.model import Job, StepError
from fwjr.reader import decode_json, to_job
from fwjr.signature import signature
from fwjr.store import alerts, schema
from fwjr.store.connection import Store, connect
from fwjr.store.migrate import migrate
from fwjr.store.schema import JOB_COLUMNS
from fwjr.synth import generate_documents
from streams.sink import example_columns, job_row
from tests import store_helpers

SCREENSHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
SEED_COUNT = 3000
SEED_MINUTES = 180
HOSTILE_TEXT = "<script>window.__pwned = 1</script><b>bold</b> & <img src=x onerror=alert(1)>"
# The board links log archives through this gateway: {lfn} is the archive's LFN.
LOG_URL_TEMPLATE = "https://logs.example.org/eos/cms{lfn}"
# A cmsRun log tail of 40 lines: the failed-job page folds it after its first 12.
LONG_LOG = "\n".join(f"%MSG-e FileReadError: line {n:02d} of the job's log tail <tail>" for n in range(1, 41))
CHROME_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1400,1000",
)


def generated_jobs(count: int, seed: int, start_ts: int, minutes: float) -> list[Job]:
    """Merged jobs of `count` generated FWJRs (rejected documents dropped, as the stream would)."""
    jobs = []
    for index, doc in enumerate(generate_documents(count, seed, start_ts=start_ts, minutes=minutes)):
        source = f"generated#{index}"
        decoded = doc if isinstance(doc, dict) else decode_json(doc, source)
        job = to_job(source, decoded)
        if isinstance(job, Job):
            jobs.append(job)
    return jobs


def hostile_job(ts: int) -> Job:
    """A failed job whose names and error text are HTML: the board must show it as text."""
    return Job(
        identity="hostile-job-1", ts=ts, workflow="<b>evil_workflow</b>", task="/<b>evil_workflow</b>/<i>Task</i>",
        site="T2_XX_<Hostile>", host="host<script>.example", jobtype="Processing", jobstate="jobfailed",
        exit_code=8021, exit_step="cmsRun1", acquisition_era="", campaign="", wn_name="wn-1", fwjr_id="hostile-fwjr-1",
        agent_ver="1.0", retry_count=2, failed=True, metrics={"wall_time": 100.0, "core_hours": 0.1, "cores": 1.0, "wasted_core_hours": 0.1},
        cpu_efficiency=None, efficiency_outlier=False, errors=[StepError("cmsRun1", 8021, "FileReadError", HOSTILE_TEXT, signature(HOSTILE_TEXT))],
        log_archive="/store/unmerged/logs/hostile.tar.gz",
    )


# Names that plotly would read as markup or as a hover template variable, and an outage whose
# service and message are HTML: every chart must show them as given.
TEMPLATE_WORKFLOW = "%{x}<img src=x onerror=window.__pwned=1>"
HOSTILE_SERVICE = "<b>EOS</b>%{y}"
HOSTILE_MESSAGE = "<img src=x onerror=window.__pwned=1>"


def template_job(ts: int) -> Job:
    """A failed job whose workflow is a plotly template with an image tag."""
    return msgspec.structs.replace(hostile_job(ts), identity="hostile-job-2", fwjr_id="hostile-fwjr-2", workflow=TEMPLATE_WORKFLOW)


def long_log_job(ts: int) -> Job:
    """A failed job whose error text is a 40-line log tail, with a log archive to link."""
    return Job(
        identity="long-log-job-1", ts=ts, workflow="long_log_workflow", task="/long_log_workflow/Task", site="T2_CH_CERN",
        host="host.example", jobtype="Processing", jobstate="jobfailed", exit_code=8021, exit_step="cmsRun1",
        acquisition_era="", campaign="", wn_name="wn-2", fwjr_id="long-log-fwjr-1", agent_ver="1.0", retry_count=1, failed=True,
        metrics={"wall_time": 100.0, "core_hours": 0.1, "cores": 1.0, "wasted_core_hours": 0.1}, cpu_efficiency=None,
        efficiency_outlier=False, errors=[StepError("cmsRun1", 8021, "FileReadError", LONG_LOG, signature(LONG_LOG))],
        log_archive="/store/unmerged/logs/prod/2026/12/2/long_log_workflow/Task/0000/1/long-log.tar.gz",
    )


def seed(store: Store, jobs: list[Job], batch: str = "test-seed") -> Aggregator:
    """Write jobs the way the stream's sink does: aggregate and error rows at minute grain, job rows
    and one example message per error signature."""
    aggregator = Aggregator("minute")
    counted = [job for job in jobs if aggregator.add(job)]
    store_helpers.insert_aggregates(store, row_dicts(aggregator.rows), batch)
    store_helpers.insert_errors(store, error_dicts(aggregator.errors), batch)
    rows = [job_row(job, batch, -1, -1) for job in counted]
    store.insert("jobs", JOB_COLUMNS, rows)
    store.insert_columns("error_examples", schema.EXAMPLE_COLUMNS, example_columns(counted))
    return aggregator


def open_seeded_store(home: Path, now: int) -> tuple[Settings, Store, Aggregator]:
    """A fresh embedded store under `home` with the last SEED_MINUTES of generated jobs and one hostile job."""
    settings = Settings(home=home, dashboard_port=0, log_url_template=LOG_URL_TEMPLATE)
    store = connect(settings)
    migrate(store)
    jobs = generated_jobs(SEED_COUNT, seed=20261123, start_ts=now - SEED_MINUTES * 60, minutes=SEED_MINUTES - 1)
    jobs += [hostile_job(now - 120), template_job(now - 150), long_log_job(now - 180)]
    aggregator = seed(store, jobs)
    alerts.insert_outages(store, [(HOSTILE_SERVICE, now - 10_500, now - 9_000, "down", HOSTILE_MESSAGE, "test", 1)])
    alerts.insert_maintenance(store, [(HOSTILE_SERVICE, now + 3600, now + 7200, HOSTILE_MESSAGE, "test", now - 60)])
    return settings, store, aggregator


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Store, Aggregator, int]]:
    """(settings, store, aggregator of what was written, seed time) for one test module.

    Module-scoped because one process can hold one embedded store at a time.
    """
    now = int(time.time())
    settings, store, aggregator = open_seeded_store(tmp_path_factory.mktemp("board") / "home", now)
    yield settings, store, aggregator, now
    store.close()


@pytest.fixture(scope="module")
def board(seeded: tuple) -> Iterator[str]:
    """The board and API served on a free port over the seeded store; yields its base URL."""
    from dashboard.server import serve_in_thread

    settings, store, _, _ = seeded
    server = serve_in_thread(settings, store, port=0)
    yield server.url.rstrip("/")
    server.close()


def chrome_options(profile: Path):
    """Headless Chromium options with a throwaway profile and browser console logging on."""
    from selenium.webdriver.chrome.options import Options

    options = Options()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return options


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """A headless Chromium driven by Debian's chromedriver; skipped when they are not installed."""
    driver_path = shutil.which("chromedriver")
    if driver_path is None or shutil.which("chromium") is None:
        pytest.skip("chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    driver = webdriver.Chrome(service=Service(driver_path), options=chrome_options(tmp_path_factory.mktemp("chrome-profile")))
    driver.set_page_load_timeout(30)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()
