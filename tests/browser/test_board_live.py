"""The overview updates when new FWJRs arrive through the live path: producer -> broker -> worker -> board.

Runs the whole local default (`fwjr up`), opens its board in headless Chromium, publishes
FWJRs with `fwjr produce --wait`, and watches the overview's job count grow by exactly the
number of jobs the offline merge finds in what was produced.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.fixtures.browser import SCREENSHOTS, browser  # noqa: F401
from tests.fixtures.live import Stack

pytestmark = [pytest.mark.browser, pytest.mark.kafka]


def _jobs_shown(driver) -> int | None:
    text = driver.find_element(By.ID, "overview-jobs").text.replace(",", "").strip()
    return int(text) if text.isdigit() else None


def test_overview_counts_fwjrs_arriving_through_the_live_path(stack: Stack, browser, tmp_path: Path) -> None:  # noqa: F811
    first = tmp_path / "first"
    second = tmp_path / "second"
    stack.fwjr("generate", "--count", "300", "--seed", "31", "--format", "jsonl", "--out", str(first), "--minutes", "20")
    stack.fwjr("generate", "--count", "200", "--seed", "32", "--format", "jsonl", "--out", str(second), "--minutes", "20")
    stack.fwjr("produce", str(first), "--wait")

    browser.get(f"http://127.0.0.1:{stack.env['FWJR_DASHBOARD_PORT']}/")
    WebDriverWait(browser, 60, poll_frequency=0.2).until(lambda d: (_jobs_shown(d) or 0) > 0)
    before = _jobs_shown(browser)

    stack.fwjr("produce", str(second), "--wait")
    summary = stack.fwjr("aggregate", str(second), "--precision", "day").stderr.decode().strip().splitlines()[-1]
    added = int(summary.split()[0])
    WebDriverWait(browser, 60, poll_frequency=0.2).until(lambda d: _jobs_shown(d) == before + added)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / "overview-live.png"))
    assert _jobs_shown(browser) == before + added
