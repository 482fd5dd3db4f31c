"""The board in headless Chromium over a seeded store: every page renders without console
errors, filters and clicks change the view and the URL, a shared URL restores a view, FWJR
text is shown escaped, and the overview refreshes itself. Screenshots go to artifacts/screenshots/.
"""

from __future__ import annotations

import json
import re
import time
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

from dashboard import plotly_bundle
from fwjr.bucket import iso
from fwjr.signature import signature
from fwjr.store import error_reads
from tests.fixtures.browser import (  # noqa: F401  (fixtures)
    HOSTILE_SERVICE,
    LOG_URL_TEMPLATE,
    LONG_LOG,
    SCREENSHOTS,
    TEMPLATE_WORKFLOW,
    board,
    browser,
    generated_jobs,
    seed,
    seeded,
)

HOSTILE_WORKFLOW, HOSTILE_SITE = "<b>evil_workflow</b>", "T2_XX_<Hostile>"

pytestmark = pytest.mark.browser
WAIT = 20
RENDER_TIMES = SCREENSHOTS / "first_render_ms.json"
# Each page: its path, the element its layout or first callback fills (its data is on screen),
# and what is on screen once the page is complete (every chart drawn, every list filled).
PAGES = {
    "overview": ("/", "overview-jobs", ("#overview-throughput .main-svg .trace", "#overview-rates .main-svg .trace",
                                        "#overview-codes-table", "#overview-site-table", "#overview-workflow-table")),
    "explorer": ("/explorer", "explorer-coverage", ("#explorer-graph .main-svg .trace",)),
    "errors": ("/errors", "errors-coverage", ("#errors-grid .main-svg .trace",)),
    "workflow": ("/workflow?name=%3Cb%3Eevil_workflow%3C%2Fb%3E", "workflow-body", ("#workflow-body .ag-row",)),
    "failed": ("/failed", "failed-coverage", ("#failed-table .ag-cell",)),
    "triage": ("/triage", "triage-coverage", ("#triage-queue .ag-row",)),
    "outages": ("/outages", "outages-alerts", ("#outages-timeline .main-svg", "#outages-windows *")),
}
# Installed in every new document before the page's own scripts: notes the frame in which each
# page's first data (its element has text) and each part of its complete state first appear, so
# that the times do not depend on when chromedriver's polling gets through (it waits while the
# page runs script). Times are ms since navigation start (requestAnimationFrame's frame time).
PROBE = """
(() => {
    const seen = window.fwjrSeen = {};
    const texts = %s, parts = %s;
    const note = key => { seen[key] = null; requestAnimationFrame(t => { seen[key] = Math.round(t); }); };
    const check = () => {
        for (const id of texts) {
            const el = seen[id] === undefined && document.getElementById(id);
            if (el && el.textContent.trim() && el.textContent.trim() !== '\u2026') note(id);
        }
        for (const css of parts) {
            if (seen[css] === undefined && document.querySelector(css)) note(css);
        }
    };
    new MutationObserver(check).observe(document, {subtree: true, childList: true, characterData: true});
})();
""" % (json.dumps([filled for _, filled, _ in PAGES.values()]), json.dumps([css for *_, parts in PAGES.values() for css in parts]))
# The browser's own paint timings (Web Vitals): first contentful paint and the last largest contentful paint.
PAINTS = """
const done = arguments[arguments.length - 1];
const fcp = performance.getEntriesByName('first-contentful-paint')[0];
new PerformanceObserver(list => {
    const entries = list.getEntries();
    done([fcp ? Math.round(fcp.startTime) : null, Math.round(entries[entries.length - 1].startTime)]);
}).observe({type: 'largest-contentful-paint', buffered: true});
"""


def wait_text(driver, element_id: str, predicate=lambda text: bool(text.strip()) and text.strip() != "…") -> str:
    """The element's text once it satisfies `predicate` (callbacks have filled it); the text read
    is the one that satisfied it, as a callback may replace the element right after."""
    def satisfied(d) -> str | None:
        text = d.find_element(By.ID, element_id).text
        return text if predicate(text) else None

    return WebDriverWait(driver, WAIT, poll_frequency=0.05, ignored_exceptions=(StaleElementReferenceException,)).until(satisfied)


def grid_headers(driver, table: str) -> list[str]:
    """The column titles of a board table (dashboard/grids.py), left to right."""
    return [h.text for h in driver.find_elements(By.CSS_SELECTOR, f"#{table} .ag-header-cell .ag-header-cell-text")]


def grid_cells(driver, table: str, column: str) -> list[str]:
    """One column's cell texts of a board table, in the order shown (read in one script, so a
    redraw of the page cannot leave half the rows stale)."""
    return driver.execute_script(
        "return [...document.querySelectorAll(`#${arguments[0]} .ag-center-cols-container .ag-row`)]"
        ".sort((a, b) => a.getAttribute('row-index') - b.getAttribute('row-index'))"
        ".map(row => { const cell = row.querySelector(`.ag-cell[col-id='${arguments[1]}']`); return cell ? cell.textContent.trim() : null; })",
        table, column)


def console_errors(driver) -> list[dict]:
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def query_of(driver) -> dict[str, list[str]]:
    return parse_qs(urlparse(driver.current_url).query)


def wait_url(driver, predicate) -> dict[str, list[str]]:
    WebDriverWait(driver, WAIT).until(lambda d: predicate(query_of(d)))
    return query_of(driver)


def render(driver, base: str, path: str, filled: str, complete: tuple[str, ...]) -> dict[str, int]:
    """Milliseconds from navigation start until the page's first data is on screen ("first data")
    and until it is complete ("complete"), as the PROBE noted them; and the browser's own first and
    largest contentful paints."""
    driver.get(base + path)

    def noted(d) -> dict | None:
        marks = d.execute_script("return window.fwjrSeen")
        return marks if all(marks.get(key) is not None for key in (filled, *complete)) else None

    seen = WebDriverWait(driver, WAIT, poll_frequency=0.05).until(noted)
    fcp, lcp = driver.execute_async_script(PAINTS)
    return {"first data": seen[filled], "complete": max(seen[css] for css in complete), "first contentful paint": fcp, "largest contentful paint": lcp}


def test_every_page_renders_without_console_errors(board: str, browser) -> None:
    """Also records render times, cold (fresh browser, first page) and each page with assets cached,
    and which plotly.js drew the charts; each screenshot is of the complete page."""
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": PROBE})
    timings = {"cold: overview": render(browser, board, *PAGES["overview"])}
    timings["plotly.js"] = browser.execute_script(
        "return [window.Plotly.version, performance.getEntriesByType('resource').map(e => e.name).filter(n => /plotly/.test(n))]")
    bundle = plotly_bundle.installed()
    assert bundle is not None, "scripts/setup.sh installs the cartesian plotly.js bundle"
    # the page's assets carry the cartesian bundle, and dcc.Graph uses it rather than fetching the full plotly.js
    assert [url.split("/")[-1].split("?")[0] for url in timings["plotly.js"][1]] == [bundle.name], timings["plotly.js"]
    for name, (path, filled, complete) in PAGES.items():
        timings[name] = render(browser, board, path, filled, complete)
        browser.save_screenshot(str(SCREENSHOTS / f"{name}.png"))
        assert console_errors(browser) == [], f"console errors on {path}"
        assert browser.find_elements(By.CSS_SELECTOR, ".notice-error") == [], f"error notice on {path}"
    RENDER_TIMES.write_text(json.dumps(timings, indent=1) + "\n")


def seeded_range(seeded: tuple) -> str:
    """URL parameters for an explicit window around the seeded jobs (the last 3 h before the seed
    time), which a preset such as "today" would cut at UTC midnight."""
    now = seeded[3]
    return urlencode({"tf": "custom", "from": iso(now - 4 * 3600), "to": iso(now + 3600)})


def test_a_filter_changes_the_chart_and_the_url(board: str, browser, seeded: tuple) -> None:
    browser.get(board + f"/explorer?x=site&by=&metric=jobs&{seeded_range(seeded)}")
    before = wait_text(browser, "explorer-coverage")
    box = browser.find_element(By.ID, "explorer-filter-jobtype")
    box.send_keys("Production", Keys.ENTER)
    params = wait_url(browser, lambda q: q.get("jobtype") == ["Production"])
    after = wait_text(browser, "explorer-coverage", lambda text: bool(text) and text != before)
    assert params["x"] == ["site"]
    assert int(after.split(" ")[0].replace(",", "")) < int(before.split(" ")[0].replace(",", ""))
    browser.save_screenshot(str(SCREENSHOTS / "explorer-filtered.png"))


def test_clicking_a_filter_box_offers_the_values_seen(board: str, browser, seeded: tuple) -> None:
    browser.get(board + f"/explorer?x=site&by=&{seeded_range(seeded)}")
    wait_text(browser, "explorer-coverage")
    browser.find_element(By.ID, "explorer-filter-exit_code").click()
    WebDriverWait(browser, WAIT).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#explorer-filter-exit_code-suggestions option"))
    labels = [o.get_attribute("label") for o in browser.find_elements(By.CSS_SELECTOR, "#explorer-filter-exit_code-suggestions option")]
    assert any(label.startswith("8021: FileReadError") for label in labels)


def test_clicking_a_bar_drills_down_and_a_shared_url_restores_the_view(board: str, browser, seeded: tuple) -> None:
    browser.get(board + f"/explorer?x=site&by=jobstate&metric=jobs&{seeded_range(seeded)}")
    wait_text(browser, "explorer-coverage")
    bar = WebDriverWait(browser, WAIT).until(ready.presence_of_element_located((By.CSS_SELECTOR, "#explorer-graph .bars .point path")))
    ActionChains(browser).move_to_element(bar).click().perform()
    params = wait_url(browser, lambda q: "site" in q and "jobstate" in q)
    drilled = wait_text(browser, "explorer-coverage")
    shared = browser.current_url
    browser.save_screenshot(str(SCREENSHOTS / "explorer-drilled.png"))

    browser.get("about:blank")
    browser.get(shared)
    restored = wait_text(browser, "explorer-coverage")
    assert restored.split(" · ")[:2] == drilled.split(" · ")[:2]
    assert browser.find_element(By.ID, "explorer-filter-site").get_attribute("value") == params["site"][0]
    assert browser.find_element(By.ID, "explorer-title").text == "Jobs by site and jobstate"


def test_clicking_a_pie_lists_what_is_inside(board: str, browser) -> None:
    browser.get(board + "/errors?tf=24h")
    wait_text(browser, "errors-coverage")
    slice_ = WebDriverWait(browser, WAIT).until(ready.presence_of_element_located((By.CSS_SELECTOR, "#errors-grid .slice path")))
    ActionChains(browser).move_to_element(slice_).click().perform()
    WebDriverWait(browser, WAIT).until(lambda d: d.find_elements(By.ID, "errors-selection-table"))
    browser.save_screenshot(str(SCREENSHOTS / "errors-selected.png"))
    assert "errors" in browser.find_element(By.ID, "errors-selection-table").text


def test_text_from_fwjrs_is_shown_escaped(board: str, browser) -> None:
    browser.get(board + "/failed?q=hostile-fwjr-1")
    WebDriverWait(browser, WAIT).until(lambda d: "<b>evil_workflow</b>" in d.find_element(By.ID, "failed-table").text)
    cell = browser.find_element(By.CSS_SELECTOR, "#failed-table .ag-cell[col-id='workflow']")
    cell.click()
    detail = wait_text(browser, "failed-detail", lambda text: "<script>" in text)
    assert "<img src=x onerror=alert(1)>" in detail
    assert browser.execute_script("return window.__pwned === undefined")
    assert browser.find_elements(By.CSS_SELECTOR, "#failed-detail b, #failed-table b, #failed-detail img") == []
    browser.save_screenshot(str(SCREENSHOTS / "failed-detail.png"))


def _count(text: str) -> int | None:
    digits = text.replace(",", "")
    return int(digits) if digits.isdigit() else None


def test_the_overview_refreshes_itself_when_new_jobs_arrive(board: str, browser, seeded: tuple) -> None:
    """Read on the 6 h window: the seeded jobs span the last 3 h, so none leaves it while the test
    waits for a refresh (on the default 1 h window they age out at ~17 a minute)."""
    _, store, _, _ = seeded
    browser.get(board + "/")
    one_hour = _count(wait_text(browser, "overview-jobs", lambda text: _count(text) is not None))
    browser.find_element(By.XPATH, "//*[@id='overview-window']//label[contains(., 'Last 6 h')]").click()
    before = _count(wait_text(browser, "overview-jobs", lambda text: (_count(text) or 0) > one_hour))
    new_jobs = generated_jobs(40, seed=99, start_ts=int(time.time()) - 30, minutes=0.4)
    written = seed(store, new_jobs, batch="test-refresh")
    after = wait_text(browser, "overview-jobs", lambda text: (_count(text) or 0) > before)
    assert _count(after) == before + written.jobs
    assert "ago" in browser.find_element(By.ID, "overview-freshness").text


def test_a_failed_job_shows_its_log_tail_folded_and_links_its_log_archive(board: str, browser) -> None:
    browser.get(board + "/failed?q=long-log-fwjr-1")
    WebDriverWait(browser, WAIT).until(lambda d: "long_log_workflow" in d.find_element(By.ID, "failed-table").text)
    browser.find_element(By.CSS_SELECTOR, "#failed-table .ag-cell[col-id='workflow']").click()
    wait_text(browser, "failed-detail", lambda text: "line 01" in text)
    shown, folded = browser.find_elements(By.CSS_SELECTOR, "#failed-detail .failed-error pre.log-tail")
    assert shown.text.splitlines() == LONG_LOG.splitlines()[:12], "the first 12 lines are on screen, newlines kept, escaped"
    assert not folded.is_displayed(), "the whole text waits behind 'show all'"
    summary = browser.find_element(By.CSS_SELECTOR, "#failed-detail details.log-fold summary")
    assert summary.text == "show all 40 lines"
    summary.click()
    WebDriverWait(browser, WAIT).until(lambda d: folded.is_displayed())
    assert folded.text.splitlines() == LONG_LOG.splitlines()
    link = browser.find_element(By.ID, "failed-log-link")
    lfn = link.text
    assert lfn.startswith("/store/unmerged/logs/") and lfn.endswith("long-log.tar.gz")
    assert link.get_attribute("href") == LOG_URL_TEMPLATE.replace("{lfn}", lfn)
    assert link.get_attribute("rel") == "noopener noreferrer"
    browser.save_screenshot(str(SCREENSHOTS / "failed-log-tail.png"))


def _counted(text: str) -> tuple[int, str]:
    """("12,345 step errors · query 9 ms") -> (12345, "step errors")."""
    number, noun = text.split(" · ")[0].split(" ", 1)
    return int(number.replace(",", "")), noun


def test_the_error_view_switches_between_its_two_counts_and_lists_signatures(board: str, browser, seeded: tuple) -> None:
    _, store, _, now = seeded
    start, end = now - 24 * 3600, now + 3600
    step_errors = sum(c["count"] for c in error_reads.error_matrix(store, start, end, "workflow", "site"))
    failed_jobs = sum(c["count"] for c in error_reads.first_error_matrix(store, start, end, "workflow", "site"))
    assert step_errors != failed_jobs, "the seeded jobs include jobs failing in several steps or with no error"

    browser.get(board + "/errors?tf=24h")
    assert _counted(wait_text(browser, "errors-coverage")) == (step_errors, "step errors")
    assert "counting all step errors" in browser.find_element(By.ID, "errors-title").text
    signatures = WebDriverWait(browser, WAIT).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#errors-signatures .signature"))
    top = error_reads.top_signatures(store, start, end)
    assert [s.get_attribute("data-signature") for s in signatures] == [row["signature"] for row in top]
    first = signatures[0].text
    assert f"{top[0]['count']:,} errors · signature {top[0]['signature']}" in first
    assert top[0]["example"].splitlines()[0] in first, "each signature shows one real message"
    assert grid_headers(browser, "errors-retries")[:2] == ["exit code", "retry 0"]

    browser.find_element(By.XPATH, "//*[@id='errors-count']//label[contains(., 'failed jobs by their first error')]").click()
    assert wait_url(browser, lambda q: q.get("count") == ["jobs"])["count"] == ["jobs"]
    assert _counted(wait_text(browser, "errors-coverage", lambda text: "failed jobs" in text)) == (failed_jobs, "failed jobs")
    shared = browser.current_url
    browser.get("about:blank")
    browser.get(shared)
    assert _counted(wait_text(browser, "errors-coverage")) == (failed_jobs, "failed jobs")
    assert browser.find_element(By.CSS_SELECTOR, "#errors-count input[value='jobs']").is_selected()

    browser.get(board + "/errors?count=jobs&rows=signature&tf=24h")
    notice = wait_text(browser, "errors-status")
    assert "'signature' is not kept per failed job" in notice
    browser.save_screenshot(str(SCREENSHOTS / "errors-signatures.png"))


def test_the_workflow_page_names_its_count_and_lists_signatures_per_exit_code(board: str, browser, seeded: tuple) -> None:
    _, store, _, now = seeded
    browser.get(board + "/workflow?name=long_log_workflow")
    text = wait_text(browser, "workflow-count-text")
    assert text.startswith("1 step errors (counting all step errors)")
    block = browser.find_element(By.CSS_SELECTOR, "#workflow-signatures-8021 .signature")
    assert block.get_attribute("data-signature") == signature(LONG_LOG)
    assert "line 01 of the job's log tail <tail>" in block.text
    assert grid_cells(browser, "workflow-retries", "exit_code")[0].startswith("8021:")
    browser.find_element(By.XPATH, "//*[@id='workflow-count']//label[contains(., 'failed jobs by their first error')]").click()
    wait_url(browser, lambda q: q.get("count") == ["jobs"])
    assert wait_text(browser, "workflow-count-text", lambda t: "failed jobs" in t).startswith("1 failed jobs (counting failed jobs by their first error)")


# What plotly would turn into elements if it read FWJR text as its markup.
_MARKUP = "svg b, svg img, svg a, svg [onerror], .hoverlayer b, .hoverlayer img"


def _svg_text(driver, css: str) -> list[str]:
    return driver.execute_script("return [...document.querySelectorAll(arguments[0])].map(e => e.textContent)", css)


def _hover(driver, graph_id: str, css: str) -> str:
    """The hover label plotly draws with the pointer over the first element matching `css`."""
    element = driver.find_element(By.CSS_SELECTOR, f"#{graph_id} {css}")
    ActionChains(driver).move_to_element(element).perform()
    WebDriverWait(driver, WAIT).until(lambda d: d.find_elements(By.CSS_SELECTOR, f"#{graph_id} .hoverlayer .hovertext"))
    return " ".join(_svg_text(driver, f"#{graph_id} .hoverlayer .hovertext"))


def _no_markup(driver) -> None:
    assert driver.find_elements(By.CSS_SELECTOR, _MARKUP) == []
    assert driver.execute_script("return window.__pwned === undefined")


def test_every_figure_kind_shows_fwjr_text_as_given(board: str, browser, seeded: tuple) -> None:
    """Axis labels, legend entries, pie labels, hover text and annotations, with names that are
    HTML and plotly templates (tests/fixtures/browser.py): read back as given, no element made."""
    hostile = [HOSTILE_WORKFLOW, TEMPLATE_WORKFLOW]
    chosen = urlencode({"workflow": "~(evil_workflow|onerror)"})

    browser.get(board + f"/explorer?x=workflow&by=&metric=jobs&{chosen}&{seeded_range(seeded)}")
    WebDriverWait(browser, WAIT).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#explorer-graph .legendtext"))
    assert sorted(_svg_text(browser, "#explorer-graph .legendtext")) == sorted(hostile), "pie legend"
    assert any(_hover(browser, "explorer-graph", ".slice path").startswith(name + ":") for name in hostile), "pie hover"
    _no_markup(browser)

    browser.get(board + f"/explorer?x=workflow&by=site&metric=failure_rate&{chosen}&{seeded_range(seeded)}")
    WebDriverWait(browser, WAIT).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#explorer-graph .xtick text"))
    assert sorted(_svg_text(browser, "#explorer-graph .xtick text")) == sorted(hostile), "bar axis labels"
    assert _svg_text(browser, "#explorer-graph .legendtext") == [HOSTILE_SITE], "bar legend"
    hover = _hover(browser, "explorer-graph", ".bars .point path")
    assert HOSTILE_SITE in hover and any(name in hover for name in hostile), "bar hover"
    _no_markup(browser)

    browser.get(board + f"/explorer?x=time&by=workflow&metric=jobs&{chosen}&{seeded_range(seeded)}")
    WebDriverWait(browser, WAIT).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#explorer-graph .legendtext")) == 2)
    assert sorted(_svg_text(browser, "#explorer-graph .legendtext")) == sorted(hostile), "time series legend"
    _no_markup(browser)

    browser.get(board + f"/errors?rows=workflow&columns=site&split=exit_code&tf=24h&{chosen}")
    WebDriverWait(browser, WAIT).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#errors-grid .annotation-text"))
    assert set(_svg_text(browser, "#errors-grid .annotation-text")) == {*hostile, HOSTILE_SITE}, "pie grid annotations"
    _no_markup(browser)

    browser.get(board + "/outages?window=24h")
    WebDriverWait(browser, WAIT).until(lambda d: HOSTILE_SERVICE in _svg_text(d, "#outages-timeline .y2tick text"))
    assert f"{HOSTILE_SERVICE} down" in _svg_text(browser, "#outages-timeline .annotation-text"), "outage band annotation"
    planned = wait_text(browser, "outages-maintenance-table")
    assert f"{HOSTILE_SERVICE} ahead" in planned and "1:00:00 <img src=x onerror=window.__pwned=1>" in planned, "planned maintenance"
    _no_markup(browser)
    browser.save_screenshot(str(SCREENSHOTS / "hostile-figures.png"))


def test_the_triage_queue_shows_fwjr_text_as_text(board: str, browser) -> None:
    """The hostile job's workflow (one failed job) is in the queue: its name and site read as given."""
    browser.get(board + "/triage?" + urlencode({"workflow": HOSTILE_WORKFLOW}))
    WebDriverWait(browser, WAIT).until(lambda d: grid_cells(d, "triage-queue", "workflow") == [HOSTILE_WORKFLOW])
    assert HOSTILE_SITE in grid_cells(browser, "triage-queue", "sites")[0]
    assert re.search(r"decisions as of \d\d:\d\d:\d\d UTC, refreshed every 60 s", wait_text(browser, "triage-coverage")), "the default 24 h window's snapshot"
    browser.find_element(By.CSS_SELECTOR, "#triage-queue .ag-cell[col-id='workflow']").click()
    assert wait_text(browser, "triage-selected-name") == HOSTILE_WORKFLOW
    _no_markup(browser)
    assert browser.find_elements(By.CSS_SELECTOR, "#triage-queue b, #triage-selected b, #triage-selected script") == []


def test_the_workflow_page_shows_fwjr_text_as_given(board: str, browser) -> None:
    """Its name, the sites of its step tables and its error messages, HTML all of them."""
    browser.get(board + "/workflow?" + urlencode({"name": HOSTILE_WORKFLOW, "tf": "24h"}))
    body = wait_text(browser, "workflow-body", lambda text: HOSTILE_SITE in text)
    assert browser.find_element(By.ID, "workflow-name").text == HOSTILE_WORKFLOW
    assert "<script>window.__pwned = 1</script><b>bold</b> & <img src=x onerror=alert(1)>" in body, "the error message as given"
    assert browser.find_elements(By.CSS_SELECTOR, "#workflow-body b, #workflow-body img, #workflow-body script, h2 b") == []
    assert browser.execute_script("return window.__pwned === undefined")
