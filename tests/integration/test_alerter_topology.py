"""Alerts do not depend on the ingest workers' topology: a rehearsal published in parts while a
second worker joins (the partitions split between two), the first worker is SIGKILLed mid-batch
and started again, the second leaves (all partitions back to one) and the first is SIGKILLed and
started again once more gives exactly the alerts,
with the same fire and resolve times, that the pure engine decides on the same FWJRs.

The second worker is a real `fwjr worker` on the same broker and consumer group. An embedded
store belongs to one process, so it writes its own store under its own FWJR_HOME (in production
the workers share a ClickHouse server); the alerter sees only what both publish on fwjr.jobs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from fwjr.devstack.broker import find_executable
from fwjr.devstack.processes import alive
from fwjr.kafka.producer import make_producer
from fwjr.kafka.publish import committed_offsets, end_offsets, publish, wait_drained
from tests.fixtures.live import FWJR, Stack, stack_env
from tests.fixtures.topic_reading import wait_alerter_caught_up
from tests.fixtures.waiting import wait_until
from tests.integration.test_alerter_live import MINUTES, _bootstrap, _decisions, _publish_outages, _reference, _rehearsal

pytestmark = pytest.mark.kafka


def _second_worker(stack: Stack, home: Path) -> subprocess.Popen:
    """A worker of its own FWJR_HOME (its own store) in the stack's consumer group."""
    env = stack_env(home, FWJR_KAFKA_BOOTSTRAP=_bootstrap(stack), FWJR_ALERT_PENDING_MINUTES="3")
    log = (home / "worker.log").open("ab")
    process = subprocess.Popen([*FWJR, "worker"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=home)
    wait_until(lambda: (home / "worker.ready").exists() or process.poll() is not None, 180, "the second worker to join")
    assert process.poll() is None, (home / "worker.log").read_text()[-3000:]
    return process


def _kill_mid_batch_and_restart(stack: Stack) -> None:
    """SIGKILL the stack's worker while it works through what was just published, then start it again."""
    first = stack.worker_pid()
    bootstrap = _bootstrap(stack)
    ends = end_offsets(bootstrap)
    before = sum(committed_offsets(bootstrap, ends).values())
    wait_until(lambda: sum(committed_offsets(bootstrap, ends).values()) > before, 120, "the worker to commit a batch of it")
    os.kill(first, signal.SIGKILL)
    wait_until(lambda: not alive(first), 30, "the first worker to die")
    stack.fwjr("up", "--detach", "--feed-rate", "0", timeout=300)


def test_alerts_are_the_same_with_workers_joining_dying_and_leaving(tmp_path_factory: pytest.TempPathFactory) -> None:
    if find_executable("java") is None:
        pytest.skip("java is not installed: the live stack needs Java 17+")
    home = tmp_path_factory.mktemp("fwjr-topology")
    stack = Stack(home, stack_env(home, FWJR_ALERT_PENDING_MINUTES="3"))
    stack.fwjr("up", "--detach", "--feed-rate", "0", timeout=300)
    other = None
    try:
        start_ts = int(time.time()) - MINUTES * 60
        _publish_outages(stack, start_ts)
        messages = [m for _, m in _rehearsal(start_ts)]
        parts = [messages[i * len(messages) // 4 : (i + 1) * len(messages) // 4] for i in range(4)]
        producer = make_producer(_bootstrap(stack))
        bootstrap = _bootstrap(stack)

        publish(producer, parts[0])  # one worker
        wait_drained(bootstrap, timeout=300)

        other = _second_worker(stack, tmp_path_factory.mktemp("second-worker"))
        publish(producer, parts[1])  # two workers share the partitions
        wait_drained(bootstrap, timeout=300)

        publish(producer, parts[2])
        _kill_mid_batch_and_restart(stack)  # its partitions go to the second worker meanwhile
        wait_drained(bootstrap, timeout=300)

        other.send_signal(signal.SIGTERM)  # all partitions back to one worker
        other.wait(60)
        other = None
        publish(producer, parts[3])
        _kill_mid_batch_and_restart(stack)  # alone: its batches are redone, their jobs published again
        wait_drained(bootstrap, timeout=300)

        expected = _reference(start_ts)
        assert [action for action, *_ in expected] == ["fire", "resolve"]

        def decided() -> list[tuple]:
            return [(d["action"], d["alert"]["id"], d["alert"]["fired"], d["alert"]["resolved"]) for d in _decisions(stack)]

        wait_alerter_caught_up(bootstrap)
        assert decided() == expected
    finally:
        if other is not None:
            other.kill()
            other.wait()
        stack.fwjr("down", check=False, timeout=120)
