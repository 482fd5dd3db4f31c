"""The triage queue and the workflow page in headless Chromium over a store holding the four
rehearsed incidents: the queue shows each incident's verdict, filters and ranks through the URL,
restores a shared view and exports the rows shown as CSV; the workflow page shows the decision,
its tasks with a reprocessing estimate computed from the task's own jobs, and, to a reader who
has not signed in, a sign-in hint instead of the form.
"""

from __future__ import annotations

import csv
import math
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from selenium.common.exceptions import (
    ElementClickInterceptedException,
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from dashboard import decisions, units
from fwjr.ops import suggestions
from fwjr.ops.database import session
from fwjr.triage.select import triage_selected
from fwjr.triage.tasks import task_stats
from tests.browser.test_dashboard_browser import console_errors, grid_cells, wait_text, wait_url
from tests.fixtures.browser import SCREENSHOTS, chrome_options
from tests.fixtures.triage_board import TriageStore, triage_store  # noqa: F401  (fixtures)
from tests.integration.test_action_suggestions import build_history

pytestmark = pytest.mark.browser
WAIT = 30


@pytest.fixture(scope="module")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory, downloads: Path) -> Iterator:
    """Headless Chromium saving downloads (the CSV exports) into `downloads`."""
    driver_path = shutil.which("chromedriver")
    if driver_path is None or shutil.which("chromium") is None:
        pytest.skip("chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = chrome_options(tmp_path_factory.mktemp("chrome-profile"))
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    driver.set_page_load_timeout(60)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def triage_board(triage_store: TriageStore) -> Iterator[str]:
    from dashboard.server import serve_in_thread

    server = serve_in_thread(triage_store.settings, triage_store.store, port=0)
    yield server.url.rstrip("/")
    server.close()


def _decisions(seeded: TriageStore, filters: dict | None = None) -> list:
    start, end = seeded.range
    return triage_selected(seeded.store, start, end, filters, settings=seeded.settings, now=int(time.time()))


def _queue_rows(driver) -> dict[str, dict[str, str]]:
    """The queue's rows on screen: workflow -> {column: text}."""
    names = grid_cells(driver, "triage-queue", "workflow")
    columns = ("verdict", "remedy", "group", "top_exit_codes", "sites", "outage_share")
    values = {c: grid_cells(driver, "triage-queue", c) for c in columns}
    return {name: {c: values[c][i] for c in columns} for i, name in enumerate(names)}


def _select(driver, workflow: str) -> None:
    """Click a queue row until the page shows it selected: a click that lands while the grid
    redraws is lost."""
    cell = f"#triage-queue .ag-row[row-id='{workflow}'] .ag-cell[col-id='workflow']"

    def selected(d) -> bool:
        _click(d, By.CSS_SELECTOR, cell)
        try:
            WebDriverWait(d, 3, ignored_exceptions=(StaleElementReferenceException,)).until(
                lambda e: e.find_element(By.ID, "triage-selected-name").text == workflow)
        except TimeoutException:
            return False
        return True

    WebDriverWait(driver, WAIT).until(selected)


def _click(driver, by: str, where: str) -> None:
    """Click an element, looking it up again while the page redraws it (a new URL redraws the page)."""
    def clicked(d) -> bool:
        try:
            element = d.find_element(by, where)
            d.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
            element.click()
        except (StaleElementReferenceException, NoSuchElementException, ElementClickInterceptedException):
            return False
        return True

    WebDriverWait(driver, WAIT).until(clicked)


def _exported(downloads: Path, name: str) -> list[dict[str, str]]:
    path = downloads / name
    WebDriverWait(None, WAIT, poll_frequency=0.2).until(lambda _: path.exists() and path.stat().st_size > 0)
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def test_the_queue_shows_each_incident_with_its_verdict_and_filters_through_the_url(triage_board: str, chromium, triage_store: TriageStore,
                                                                                 downloads: Path) -> None:
    expected = _decisions(triage_store)
    chromium.get(triage_board + "/triage?" + urlencode(triage_store.window))
    coverage = wait_text(chromium, "triage-coverage")
    assert coverage.startswith(f"{len(expected)} failing workflows"), coverage
    assert "decisions computed at" in coverage and "UTC for this range" in coverage, "a custom range is computed for its view"
    WebDriverWait(chromium, WAIT).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#triage-queue .ag-row"))
    shown = _queue_rows(chromium)
    for workflow, expect in triage_store.expected.items():
        assert (shown[workflow]["verdict"], shown[workflow]["remedy"]) == (expect["verdict"], expect["remedy"]), workflow
    retry = shown[triage_store.incidents["retry"]]
    assert retry["top_exit_codes"].startswith("8028 ×") and float(retry["outage_share"]) > 50
    assert shown[triage_store.incidents["site"]]["sites"].startswith("T2_CH_CERN ("), "the site the failures are at comes first"
    assert console_errors(chromium) == []
    chromium.save_screenshot(str(SCREENSHOTS / "triage-queue.png"))

    # the whole ranking exported, as many rows as the triage has, in the queue's order
    _click(chromium, By.CSS_SELECTOR, "#triage-queue .grid-export")
    rows = _exported(downloads, "triage-queue.csv")
    assert len(rows) == len(expected)
    assert {r["workflow"] for r in rows} == {d.workflow for d in expected}
    by_name = {r["workflow"]: r for r in rows}
    for workflow, expect in triage_store.expected.items():
        assert by_name[workflow]["verdict"] == expect["verdict"]
    (downloads / "triage-queue.csv").unlink()

    # a filter goes into the URL and narrows the queue to what the triage says for it
    box = chromium.find_element(By.ID, "triage-filter-site")
    box.send_keys("T2_CH_CERN", Keys.ENTER)
    wait_url(chromium, lambda q: q.get("site") == ["T2_CH_CERN"])
    narrowed = _decisions(triage_store, {"site": "T2_CH_CERN"})
    assert 0 < len(narrowed) < len(expected)
    filtered = wait_text(chromium, "triage-coverage", lambda text: text.startswith(f"{len(narrowed)} failing workflows"))
    _click(chromium, By.XPATH, "//*[@id='triage-rank']//label[contains(., 'failed jobs')]")
    params = wait_url(chromium, lambda q: q.get("rank") == ["failed"])
    assert params["site"] == ["T2_CH_CERN"] and params["tf"] == ["custom"]

    def ranked_by_failures(d) -> bool:
        """The redrawn queue: the workflows outside a group in order of failures (the page before was by core-hours)."""
        failed = [int(n) for n, group in zip(grid_cells(d, "triage-queue", "failed"), grid_cells(d, "triage-queue", "group")) if not group]
        return len(failed) > 1 and failed == sorted(failed, reverse=True)

    WebDriverWait(chromium, WAIT).until(ranked_by_failures)
    assert triage_store.incidents["site"] in grid_cells(chromium, "triage-queue", "workflow")

    # the shared URL restores the view; the export is what the filter shows
    shared = chromium.current_url
    chromium.get("about:blank")
    chromium.get(shared)
    assert wait_text(chromium, "triage-coverage").split(" · ")[0] == filtered.split(" · ")[0]
    assert chromium.find_element(By.ID, "triage-filter-site").get_attribute("value") == "T2_CH_CERN"
    assert chromium.find_element(By.CSS_SELECTOR, "#triage-rank input[value='failed']").is_selected()
    WebDriverWait(chromium, WAIT).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#triage-queue .ag-row"))
    _click(chromium, By.CSS_SELECTOR, "#triage-queue .grid-export")
    assert {r["workflow"] for r in _exported(downloads, "triage-queue.csv")} == {d.workflow for d in narrowed}
    (downloads / "triage-queue.csv").unlink()

    # a bad filter says what is wrong
    chromium.get(triage_board + "/triage?" + urlencode({**triage_store.window, "exit_code": "eighty"}))
    assert "exit_code='eighty'" in wait_text(chromium, "triage-status")


def test_a_queue_row_leads_to_the_workflow_page_and_its_decision(triage_board: str, chromium, triage_store: TriageStore, downloads: Path) -> None:
    workflow = triage_store.incidents["debug"]
    chromium.get(triage_board + "/triage?" + urlencode(triage_store.window))
    WebDriverWait(chromium, WAIT).until(lambda d: d.find_elements(By.CSS_SELECTOR, f"#triage-queue .ag-row[row-id='{workflow}']"))
    _select(chromium, workflow)
    _click(chromium, By.ID, "triage-selected-link")
    WebDriverWait(chromium, WAIT).until(lambda d: d.find_elements(By.ID, "workflow-decision-facts"))
    assert chromium.find_element(By.ID, "workflow-name").text == workflow
    facts = chromium.find_element(By.ID, "workflow-decision-facts").text
    assert chromium.find_element(By.ID, "workflow-decision-age").text.startswith("decisions computed at")
    assert "verdict\ndebug" in facts and "remedy (rule)\nopen-issue" in facts
    assert "8001 ×" in facts
    assert chromium.find_element(By.ID, "workflow-suggestion").text == "", "no model learnt yet: no suggestion shown"
    assert "sign in" in chromium.find_element(By.ID, "decide-hint").text, "a reader who has not signed in gets the hint, not the form"
    assert chromium.find_elements(By.ID, "decide-form") == []

    start, end = triage_store.range
    tasks = task_stats(triage_store.store, start, end, workflow)
    assert tasks and grid_cells(chromium, "workflow-tasks", "task") == [t.task for t in tasks]
    assert grid_cells(chromium, "workflow-tasks", "wall_median") == [units.hms(t.wall_median) for t in tasks]
    jobs_box, slots_box = chromium.find_element(By.ID, "workflow-reprocess-jobs"), chromium.find_element(By.ID, "workflow-reprocess-slots")
    jobs_box.clear()
    jobs_box.send_keys("250", Keys.TAB)
    slots_box.clear()
    slots_box.send_keys("40", Keys.TAB)
    first = tasks[0]
    per_job = first.succeeded_wall_median if first.succeeded_wall_median is not None else first.wall_median
    waves = math.ceil(250 / 40)
    wanted = f"{units.hms(waves * per_job)} ({waves} × {units.hms(per_job)})"
    WebDriverWait(chromium, WAIT).until(lambda d: grid_cells(d, "workflow-tasks", "estimate")[:1] == [wanted])
    slots_box.clear()
    slots_box.send_keys("0", Keys.TAB)
    assert "slots" in wait_text(chromium, "workflow-estimate-status")
    assert chromium.find_elements(By.CSS_SELECTOR, "#workflow-step-cmsRun1 .ag-row"), "the step table is a grid"
    chromium.find_element(By.CSS_SELECTOR, "#workflow-tasks .grid-export").click()
    assert [r["task"] for r in _exported(downloads, "workflow-tasks.csv")] == [t.task for t in tasks]
    chromium.save_screenshot(str(SCREENSHOTS / "workflow-decision.png"))

    # the queue's other link lands on the form, scrolled to it
    chromium.get(triage_board + "/triage?" + urlencode(triage_store.window))
    WebDriverWait(chromium, WAIT).until(lambda d: d.find_elements(By.CSS_SELECTOR, f"#triage-queue .ag-row[row-id='{workflow}']"))
    _select(chromium, workflow)
    _click(chromium, By.ID, "triage-selected-decide")
    WebDriverWait(chromium, WAIT).until(lambda d: d.execute_script(
        "const form = document.getElementById('decide');"
        " return !!form && window.scrollY > 0 && Math.abs(form.getBoundingClientRect().top) < 5;"))
    assert chromium.current_url.endswith("#decide")


def test_the_action_learnt_from_past_ones_shows_beside_the_rules_remedy(triage_board: str, chromium, triage_store: TriageStore) -> None:
    """Once a model learnt from 220 past decisions, the memory incident's page shows its suggestion and confidence."""
    url = triage_store.settings.ops_url
    build_history(url, 220)
    with session(url) as opened:
        assert suggestions.train(opened, triage_store.settings).trained
    workflow = triage_store.incidents["resources"]
    start, end = triage_store.range
    expected = suggestions.suggest(triage_store.settings, decisions.pattern(triage_store.store, start, end, workflow), "resources")
    assert expected is not None and expected.action == "more-memory"
    chromium.get(triage_board + "/workflow?" + urlencode({"name": workflow, **triage_store.window}))
    shown = wait_text(chromium, "workflow-suggestion")
    assert shown.startswith(f"From past actions: more-memory (confidence {expected.confidence:.0%}; on held-out history {expected.accuracy:.0%} right")
    assert "more-memory +1000MB" in chromium.find_element(By.ID, "workflow-decision-facts").text, "beside the rule's remedy"
