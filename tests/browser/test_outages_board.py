"""The outages and alerts page and the banner, over a real seeded store, in headless Chromium.

A failure burst lies under an EOS outage in the seeded traffic; the page must show the
outage, the alert with its evidence and suspected cause, the retry verdict for the burst's
exit code, and every page must carry the banner while the alert fires.
"""

from __future__ import annotations

import pytest
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from fwjr.alerting.correlate import SERVICE
from fwjr.alerting.model import Alert, Decision
from fwjr.store import alerts as store_alerts
from streams.alerting import alert_row
from tests.browser.test_dashboard_browser import WAIT, console_errors
from tests.fixtures.browser import SCREENSHOTS, board, browser, generated_jobs, seed, seeded  # noqa: F401

pytestmark = pytest.mark.browser
SITE = "T1_US_FNAL_Disk"


def wait_text(driver, element_id: str, predicate=lambda text: bool(text.strip())) -> str:
    """The element's text once `predicate` holds; the banner and charts re-render on timers, so a
    stale element is looked up again rather than failing the test."""
    found: list[str] = []

    def ready(d) -> bool:
        text = d.find_element(By.ID, element_id).text
        found[:] = [text]
        return predicate(text)

    WebDriverWait(driver, WAIT, poll_frequency=0.05, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)).until(ready)
    return found[0]


def _alert(now: int, resolved: int | None) -> Alert:
    return Alert(
        id=f"test-{resolved is None}", scope="site", value=SITE, state="firing" if resolved is None else "resolved",
        started=now - 1500, fired=now - 1320, resolved=resolved,
        evidence={"rate": 0.48, "baseline": 0.02, "z": 21.3, "jobs": 310, "failures": 149, "expected": 6.2, "window_minutes": 5,
                  "top_exit_codes": [{"exit_code": 8028, "failures": 140, "description": "FileOpenError with fallback",
                                      "procedure": {"cause": "storage unreachable", "normal": "ACDC"}}],
                  "suspected_causes": [{"service": "EOS", "state": "down", "start": now - 1800, "end": None}]},
        members=["all jobs", "exit_code=8028"],
    )


@pytest.fixture(scope="module")
def incident(seeded: tuple) -> tuple:  # noqa: F811
    """The seeded store plus a burst of 8028 failures at one site under an open EOS outage, and its alert."""
    settings, store, _, now = seeded
    burst = generated_jobs(1200, seed=77, start_ts=now - 1800, minutes=29)
    for job in burst:
        if job.site == SITE and not job.failed:
            job.failed, job.exit_code, job.jobstate = True, 8028, "jobfailed"
    seed(store, burst, batch="test-burst")
    store_alerts.insert_outages(store, [["EOS", now - 1800, 0, "down", "EOS namespace down", "test", 1],
                                 ["FTS", now - 9000, now - 8400, "degraded", "", "test", 2]])
    store_alerts.insert_alerts(store, [alert_row(Decision("fire", _alert(now, None)))])
    store_alerts.insert_status_rejects(store, [[now - now % 60 - 600, "unknown state", 2]])
    return settings, store, now, burst


def test_the_page_shows_outages_alerts_with_evidence_and_verdicts(incident: tuple, board: str, browser) -> None:  # noqa: F811
    browser.get(board + "/outages")
    alerts = wait_text(browser, "outages-alerts-table")
    assert f"site={SITE}" in alerts and "suspected cause: EOS down" in alerts and "procedure: ACDC" in alerts
    windows = wait_text(browser, "outages-windows-table")
    assert "EOS" in windows and "ongoing" in windows and "FTS" in windows
    verdicts = wait_text(browser, "outages-verdicts-table")
    first_row = verdicts.splitlines()[1]
    assert first_row.startswith("8028") and SERVICE in first_row
    assert "status events rejected: unknown state (2)" in wait_text(browser, "outages-rejects")
    browser.save_screenshot(str(SCREENSHOTS / "outages-incident.png"))
    assert console_errors(browser) == []


def test_every_page_carries_the_banner_while_an_alert_fires(incident: tuple, board: str, browser) -> None:  # noqa: F811
    for path in ("/", "/errors", "/outages"):
        browser.get(board + path)
        text = wait_text(browser, "alert-banner-text")
        assert f"error-rate spike at site {SITE}" in text and "EOS is down" in text
    link = browser.execute_script("return document.querySelector('#alert-banner-text a').getAttribute('href');")
    assert link == "/outages"


def test_the_overview_failure_rate_chart_shows_outage_bands(incident: tuple, board: str, browser) -> None:  # noqa: F811
    browser.get(board + "/")
    text = wait_text(browser, "overview-rates", lambda text: "EOS down" in text)
    assert "FTS degraded" not in text  # outside the overview's last hour


def _get(base: str, path: str) -> tuple[int, dict]:
    import json
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(base + path, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_api_answers_alerts_outages_correlation_and_job_services(incident: tuple, board: str) -> None:  # noqa: F811
    _, _, _, burst = incident
    status, body = _get(board, "/api/v1/alerts?hours=2")
    assert status == 200 and [a["value"] for a in body["alerts"]] == [SITE]
    assert body["alerts"][0]["evidence"]["suspected_causes"][0]["service"] == "EOS"
    status, body = _get(board, "/api/v1/outages?service=EOS&tf=24h")
    assert status == 200 and [(o["service"], o["end"]) for o in body["outages"]] == [("EOS", None)]
    assert body["outages"][0]["duration"] >= 1800
    status, body = _get(board, f"/api/v1/correlation?tf=24h&site={SITE}")
    assert status == 200
    verdicts = {v["exit_code"]: v["verdict"] for v in body["exit_codes"]}
    assert verdicts[8028] == SERVICE
    eos = next(o for o in body["outages"] if o["outage"]["service"] == "EOS")
    assert eos["by_exit_code"][0]["exit_code"] == 8028
    during = next(job for job in burst if job.site == SITE)
    status, body = _get(board, f"/api/v1/jobs/{during.identity}/services")
    assert status == 200 and [s["service"] for s in body["services"]] == ["EOS"]
    assert _get(board, "/api/v1/jobs/no-such-job/services")[0] == 404
    status, body = _get(board, "/api/v1/alerts?hours=-1")
    assert status == 400 and "hours" in body["error"]
