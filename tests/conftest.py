"""Shared fixtures, and one rule: a test that skips because a component is missing fails the run.

The fixtures skip when Java, Maven, Chromium or Spark cannot run here, which keeps a developer's
partial run readable; but `bash scripts/test.sh` (the README's command, and what .ci/run runs) must
not pass without the broker, browser, Spark and HDFS tests having run. Set FWJR_TESTS_ALLOW_SKIPS=1
to let such tests skip instead.

FWJR_TEST_CLOCK=2026-12-03T00:01:00Z runs the suite as if the wall clock read that moment when it
started (in this process and in every Python process the tests start): the way to rehearse the
hours just after UTC midnight, when "today" holds less than the last few hours.
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path

import pytest

pytest_plugins = [
    "tests.fixtures.kafka",
    "tests.fixtures.hdfs",
    "tests.fixtures.live",
]
ALLOW_SKIPS = "FWJR_TESTS_ALLOW_SKIPS"
CLOCK = "FWJR_TEST_CLOCK"
CLOCK_SHIFT = "FWJR_TEST_CLOCK_SHIFT"
CLOCK_SITE = Path(__file__).parent / "clock"


def pytest_configure(config: pytest.Config) -> None:
    """Fix the clock shift once for the run and hand it to every Python process the tests start."""
    target = os.environ.get(CLOCK)
    if not target or os.environ.get(CLOCK_SHIFT):
        return
    try:
        moment = datetime.fromisoformat(target.replace("Z", "+00:00"))
    except ValueError as exc:
        raise pytest.UsageError(f"{CLOCK}={target!r} is not an ISO date-time such as 2026-12-03T00:01:00Z") from exc
    if moment.tzinfo is None:
        raise pytest.UsageError(f"{CLOCK}={target!r} has no zone; end it with Z for UTC")
    os.environ[CLOCK_SHIFT] = repr(moment.timestamp() - time.time())
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(CLOCK_SITE), os.environ.get("PYTHONPATH")]))
    import tests.clock.sitecustomize  # noqa: F401  (shifts this process as well)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail") and os.environ.get(ALLOW_SKIPS) != "1":
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"{item.nodeid} did not run: {reason} (set {ALLOW_SKIPS}=1 to let it skip)"
