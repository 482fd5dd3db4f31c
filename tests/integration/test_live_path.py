"""The live path end to end: real broker, real worker process, embedded store.

The worker's store must equal `fwjr aggregate` over the same files exactly, through
duplicates, malformed input, worker SIGKILLs and a broker restart. Each test adds a new
generated set; the store is compared with the offline aggregate of every set so far.
"""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from confluent_kafka import Consumer

from fwjr.devstack.broker import KafkaBroker
from fwjr.kafka.publish import committed_offsets, end_offsets, wait_drained
from fwjr.model import Rejection
from fwjr.reader import decode_json, to_job
from streams.preparer import helper_pids
from tests.fixtures.live import FWJR, Stack
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.kafka

_produced: list[Path] = []


def _window() -> tuple[str, str]:
    now = datetime.now(timezone.utc)
    return (now - timedelta(days=2)).strftime("%Y-%m-%dT%H:00:00"), (now + timedelta(days=1)).strftime("%Y-%m-%dT%H:00:00")


def _generate(stack: Stack, tmp_path: Path, count: int, seed: int) -> Path:
    out = tmp_path / f"gen-{seed}"
    stack.fwjr("generate", "--count", str(count), "--seed", str(seed), "--format", "jsonl", "--out", str(out), "--minutes", "90")
    _produced.append(out)
    return out


def _assert_store_equals_offline(stack: Stack) -> None:
    start, end = _window()
    stored = stack.jsonl("query", "aggregates", "--from", start, "--to", end, "--precision", "hour")
    expected = stack.jsonl("aggregate", *map(str, _produced), "--precision", "hour")
    assert len(stored) == len(expected)
    assert sum(r["jobs"] for r in stored) == sum(r["jobs"] for r in expected)
    assert stored == expected


def _bootstrap(stack: Stack) -> str:
    return f"127.0.0.1:{stack.env['FWJR_KAFKA_PORT']}"


def _committed_and_end(stack: Stack) -> tuple[int, int]:
    ends = end_offsets(_bootstrap(stack))
    done = committed_offsets(_bootstrap(stack), ends)
    return sum(max(offset, 0) for offset in done.values()), sum(ends.values())


def _wait_for_progress(stack: Stack, messages: int) -> None:
    """Return once the worker has committed `messages` more, or everything produced so far."""
    before, _ = _committed_and_end(stack)

    def moved() -> bool:
        done, end = _committed_and_end(stack)
        return done >= before + messages or done >= end

    wait_until(moved, 180, f"the worker to commit {messages} more messages", poll=0.2)


def _dead_letters(stack: Stack, expected: int) -> list:
    """fwjr.dlq from the start: read until `expected` letters are in, then drain what follows them."""
    consumer = Consumer(
        {"bootstrap.servers": _bootstrap(stack), "group.id": f"t-{uuid.uuid4().hex}", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe(["fwjr.dlq"])
    letters: list = []

    def read() -> bool:
        letters.extend(m for m in consumer.consume(500, timeout=0.5) if m.error() is None)
        return len(letters) >= expected

    wait_until(read, 60, f"{expected} dead letters", poll=0)
    letters.extend(m for m in consumer.consume(500, timeout=1.0) if m.error() is None)
    consumer.close()
    return letters


def _offline_rejections(archive: Path) -> Counter:
    """(message value, reason, field) of every JSON line of the set that the offline reader rejects.

    `fwjr produce` sends each line stripped as one message; the reader's own steps
    (decode_json, to_job) on those bytes say why the document cannot be a job.
    """
    rejected: Counter = Counter()
    for path in sorted(archive.rglob("*.jsonl")):
        for line in path.read_bytes().splitlines():
            value = line.strip()
            if not value:
                continue
            outcome = to_job(str(path), decode_json(value, str(path)))
            if type(outcome) is Rejection:
                rejected[(value, outcome.reason, outcome.field)] += 1
    return rejected


def test_worker_store_equals_offline_aggregate_with_duplicates_and_rejects(stack: Stack, tmp_path: Path) -> None:
    archive = _generate(stack, tmp_path, 4000, seed=11)
    offline = stack.fwjr("aggregate", str(archive), "--precision", "hour")
    summary = offline.stderr.decode().strip().splitlines()[-1]
    rejected = int(summary.split(",")[-1].split()[0])
    duplicates = int(summary.split(",")[-2].split()[0])
    assert rejected > 0 and duplicates > 0, summary

    stack.fwjr("produce", str(archive), "--wait")

    _assert_store_equals_offline(stack)
    letters = _dead_letters(stack, rejected)
    expected = _offline_rejections(archive)
    assert sum(expected.values()) == rejected
    dead = Counter((letter.value(), dict(letter.headers())["reason"].decode(), dict(letter.headers())["field"].decode()) for letter in letters)
    assert dead == expected
    metrics = stack.fwjr("status").stdout
    assert b'"worker"' in metrics


def test_sigkilled_worker_neither_loses_nor_double_counts(stack: Stack, tmp_path: Path) -> None:
    archive = _generate(stack, tmp_path, 12000, seed=12)
    producer = subprocess.Popen(FWJR + ["produce", str(archive), "--rate", "1500"], env=stack.env, stderr=subprocess.PIPE)
    try:
        for _ in range(3):
            _wait_for_progress(stack, 1000)
            pid = stack.worker_pid()
            assert pid is not None, stack.worker_log()[-2000:]
            os.kill(pid, signal.SIGKILL)
            wait_until(lambda: stack.worker_pid() != pid, 30, f"worker {pid} to die")
            stack.fwjr("up", "--detach", "--feed-rate", "0", timeout=300)
    finally:
        assert producer.wait(timeout=300) == 0, producer.stderr.read().decode()[-2000:]
    wait_drained(_bootstrap(stack), timeout=300)
    _assert_store_equals_offline(stack)


def test_killed_helper_process_is_replaced_and_totals_stay_exact(stack: Stack, tmp_path: Path) -> None:
    archive = _generate(stack, tmp_path, 8000, seed=14)
    worker = stack.worker_pid()
    assert worker is not None, stack.worker_log()[-2000:]
    killed: list[int] = []
    producer = subprocess.Popen(FWJR + ["produce", str(archive), "--rate", "1500"], env=stack.env, stderr=subprocess.PIPE)
    try:
        for _ in range(2):
            _wait_for_progress(stack, 1000)
            wait_until(lambda: any(pid not in killed for pid in helper_pids(worker)), 120, "a live helper process")
            victim = next(pid for pid in helper_pids(worker) if pid not in killed)
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)
    finally:
        assert producer.wait(timeout=300) == 0, producer.stderr.read().decode()[-2000:]
    wait_drained(_bootstrap(stack), timeout=300)
    assert stack.worker_pid() == worker, "the worker itself must survive its helper"
    assert stack.worker_log().count("helper process died") >= 2, stack.worker_log()[-3000:]
    _assert_store_equals_offline(stack)


def test_broker_restart_during_a_run_keeps_totals_exact(stack: Stack, tmp_path: Path) -> None:
    archive = _generate(stack, tmp_path, 6000, seed=13)
    producer = subprocess.Popen(FWJR + ["produce", str(archive), "--rate", "1500"], env=stack.env, stderr=subprocess.PIPE)
    try:
        _wait_for_progress(stack, 1000)
        KafkaBroker(stack.home / "kafka").restart()
    finally:
        assert producer.wait(timeout=300) == 0, producer.stderr.read().decode()[-2000:]
    wait_drained(_bootstrap(stack), timeout=300)
    assert stack.worker_pid() is not None, stack.worker_log()[-3000:]
    _assert_store_equals_offline(stack)


def test_avro_single_object_messages_count_like_json(stack: Stack) -> None:
    from tests.fixtures.paths import WMARCHIVE

    samples = [str(WMARCHIVE / "fwjr_samples"), str(WMARCHIVE / "schemas" / "fwjr_prod_2016-03_sample.json")]
    stack.fwjr("produce", *samples, "--avro", "--wait")
    stored = stack.jsonl("query", "aggregates", "--from", "2015-01-01", "--to", "2024-01-01", "--precision", "month")
    expected = stack.jsonl("aggregate", *samples, "--precision", "month")
    assert stored == expected
    assert sum(row["jobs"] for row in stored) == 12
