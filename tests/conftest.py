"""Shared fixtures, and one rule: a test that skips because a component is missing fails the run.

The fixtures skip when Java, Maven, Chromium or Spark cannot run here, which keeps a developer's
partial run readable; but `bash scripts/test.sh` (the README's command, and what .ci/run runs) must
not pass without the broker, browser, Spark and HDFS tests having run. Set FWJR_TESTS_ALLOW_SKIPS=1
to let such tests skip instead.

FWJR_TEST_CLOCK=2026-12-03T00:01:00Z runs the suite as if the wall clock read that moment when it
started (in this process and in every Python process the tests start): the way to rehearse the
hours just after UTC midnight, when "today" holds less than the last few hours. Tests marked
real_clock keep real time: they talk to a component whose clock cannot be shifted (Alertmanager is
a Go binary; it reads the kernel's clock without libc), and their processes get no shift either.
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from pathlib import Path

import pytest

from tests.clock.sitecustomize import SHIFT, shift_clock

pytest_plugins = [
    "tests.fixtures.kafka",
    "tests.fixtures.hdfs",
    "tests.fixtures.live",
]
ALLOW_SKIPS = "FWJR_TESTS_ALLOW_SKIPS"
CLOCK = "FWJR_TEST_CLOCK"
CLOCK_SITE = str(Path(__file__).parent / "clock")


class _Clock:
    """The run's wall-clock shift: on for every test, off for those marked real_clock."""

    def __init__(self) -> None:
        self.seconds: float | None = None
        self.traveller = None

    def resume(self) -> None:
        os.environ[SHIFT] = repr(self.seconds)
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [CLOCK_SITE, os.environ.get("PYTHONPATH")]))
        self.traveller = shift_clock(self.seconds)

    def pause(self) -> None:
        self.traveller.stop()
        os.environ.pop(SHIFT)
        paths = [p for p in os.environ["PYTHONPATH"].split(os.pathsep) if p != CLOCK_SITE]
        os.environ["PYTHONPATH"] = os.pathsep.join(paths)


_clock = _Clock()


def pytest_configure(config: pytest.Config) -> None:
    """Fix the clock shift once for the run and hand it to every Python process the tests start."""
    target = os.environ.get(CLOCK)
    if not target or os.environ.get(SHIFT):
        return
    try:
        moment = datetime.fromisoformat(target.replace("Z", "+00:00"))
    except ValueError as exc:
        raise pytest.UsageError(f"{CLOCK}={target!r} is not an ISO date-time such as 2026-12-03T00:01:00Z") from exc
    if moment.tzinfo is None:
        raise pytest.UsageError(f"{CLOCK}={target!r} has no zone; end it with Z for UTC")
    _clock.seconds = moment.timestamp() - time.time()
    _clock.resume()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    if _clock.traveller is not None and item.get_closest_marker("real_clock"):
        _clock.pause()
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item):
    yield
    if _clock.seconds is not None and SHIFT not in os.environ:
        _clock.resume()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail") and os.environ.get(ALLOW_SKIPS) != "1":
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"{item.nodeid} did not run: {reason} (set {ALLOW_SKIPS}=1 to let it skip)"
