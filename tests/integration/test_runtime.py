"""The worker's writer on its own: a store write retried without doubling, a dead helper replaced.

A real Runtime (streams.writer) with its real helper process, publishing to the real broker, on a
real embedded store; batches are handed to it as Faust's agent would, and `on_durable` stands
for the ack that lets Faust commit the offsets.
"""

from __future__ import annotations

import ast
import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from prometheus_client import REGISTRY

from fwjr import topics
from fwjr.aggregate import Aggregator
from fwjr.config import Settings
from fwjr.devstack.broker import KafkaBroker
from fwjr.kafka.publish import message_key
from fwjr.model import Rejection
from fwjr.reader import decode_message, to_job
from fwjr.store import ledger, reads
from fwjr.store.connection import Store
from fwjr.synth.feed import generate_documents
from streams.app import consumer_lag
from streams.pipeline import Message
from streams.preparer import helper_pids
from streams.telemetry import TELEMETRY
from streams.writer import Runtime
from tests.fixtures import store_helpers
from tests.fixtures.store import empty, store  # noqa: F401
from tests.fixtures.topic_reading import records_since, topic_end

pytestmark = pytest.mark.kafka

NOW = int(time.time())


def _values(seed: int, count: int) -> list[bytes]:
    docs = generate_documents(count, seed, start_ts=NOW - 7200, minutes=60, malformed_share=0.05, duplicate_share=0)
    return [doc if isinstance(doc, bytes) else orjson.dumps(doc) for doc in docs]


def _messages(values: list[bytes], first: int) -> list[Message]:
    return [Message(topics.RAW, 0, first + n, value) for n, value in enumerate(values)]


def _offline_rows(values: list[bytes]) -> list[tuple]:
    aggregator = Aggregator("minute")
    for n, value in enumerate(values):
        job = to_job(f"offline@{n}", decode_message(value, None, f"offline@{n}"))
        if type(job) is not Rejection:
            aggregator.add(job)
    return sorted(key + tuple(vector) for key, vector in aggregator.rows.items())


@pytest.fixture
def runtime(kafka_broker: KafkaBroker, empty: Store, tmp_path) -> Iterator[Runtime]:  # noqa: F811
    settings = Settings(home=tmp_path, kafka_bootstrap=kafka_broker.bootstrap, dedupe_days=7)
    running = Runtime(settings, empty)
    try:
        yield running
    finally:
        running.close()


async def _durable(runtime: Runtime, messages: list[Message]) -> None:
    """Submit a batch and wait until the writer released it (the store has it)."""
    released = asyncio.Event()
    await runtime.submit(messages, released.set)
    await asyncio.wait_for(released.wait(), timeout=120)


async def _until(check, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


def test_a_store_write_that_fails_midway_is_retried_without_doubling_a_table(runtime: Runtime, empty: Store) -> None:  # noqa: F811
    values = _values(31, 120)

    async def scenario() -> None:
        await runtime.recover([0])
        writer = asyncio.create_task(runtime.write_batches())
        failures = REGISTRY.get_sample_value("fwjr_store_write_errors_total")
        empty.command("RENAME TABLE jobs TO jobs_away")  # agg and errors go in, then the store refuses
        try:
            released = asyncio.Event()
            await runtime.submit(_messages(values, 0), released.set)
            await _until(lambda: REGISTRY.get_sample_value("fwjr_store_write_errors_total") > failures, "a failed store write")
            assert not released.is_set()
        finally:
            empty.command("RENAME TABLE jobs_away TO jobs")
        await asyncio.wait_for(released.wait(), timeout=60)
        writer.cancel()

    asyncio.run(scenario())
    assert store_helpers.stored_rows(empty, "agg", 0, NOW + 86400) == _offline_rows(values)
    assert ledger.committed_offsets(empty, topics.RAW) == {0: len(values) - 1}
    assert ledger.uncommitted_batches(empty, topics.RAW, [0]) == []


def test_a_killed_helper_is_replaced_and_resumes_from_the_store(runtime: Runtime, empty: Store, caplog) -> None:  # noqa: F811
    first, second = _values(32, 100), _values(33, 100)
    repeated = first[:20] + second  # the second batch repeats jobs the first one counted

    async def scenario() -> None:
        await runtime.recover([0])
        writer = asyncio.create_task(runtime.write_batches())
        await _durable(runtime, _messages(first, 0))
        (victim,) = helper_pids(os.getpid())
        os.kill(victim, signal.SIGKILL)
        await _until(lambda: not os.path.exists(f"/proc/{victim}") or _zombie(victim), f"helper {victim} to die")
        await _durable(runtime, _messages(repeated, len(first)))
        assert helper_pids(os.getpid()) and victim not in helper_pids(os.getpid())
        writer.cancel()

    with caplog.at_level("INFO", logger="fwjr.worker"):
        asyncio.run(scenario())
    assert "the helper process died" in caplog.text
    assert sum("recovered fwjr.raw partitions [0]" in record.getMessage() for record in caplog.records) == 2
    assert store_helpers.stored_rows(empty, "agg", 0, NOW + 86400) == _offline_rows(first + repeated)
    assert store_helpers.row_count(empty, "jobs") == len(_identities(first + second))


def _identities(values: list[bytes]) -> set[str]:
    jobs = (to_job("offline", decode_message(value, None, "offline")) for value in values)
    return {job.identity for job in jobs if type(job) is not Rejection}


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] == "Z"
    except FileNotFoundError:
        return True


_REJECTED_LINE = re.compile(r"^rejected: (?P<source>[^ ]+:\d+): (?P<reason>.*) \(field (?P<field>'[^']*'|\"[^\"]*\"), value .*\)$")


def test_dead_letters_counters_and_job_records_equal_what_fwjr_jobs_says(
    runtime: Runtime, empty: Store, kafka_broker: KafkaBroker, tmp_path: Path  # noqa: F811
) -> None:
    """The DLQ's reasons and headers, the reject counters, dlq_counts and fwjr.jobs, each against
    `fwjr jobs` run on the same file (what `fwjr produce` would send, one message per line)."""
    docs = list(generate_documents(800, 34, start_ts=NOW - 7200, minutes=60, malformed_share=0.12, duplicate_share=0.05))
    lines = [doc if isinstance(doc, bytes) else orjson.dumps(doc) for doc in docs]
    archive = tmp_path / "set.jsonl"
    archive.write_bytes(b"".join(line + b"\n" for line in lines))
    lines = [line.strip() for line in lines]  # what `fwjr produce` sends of each line
    bootstrap = kafka_broker.bootstrap
    dlq_from, jobs_from = topic_end(bootstrap, topics.DLQ), topic_end(bootstrap, topics.JOBS)
    rejected_before = {m.labels["reason"]: m.value for m in TELEMETRY.rejected.collect()[0].samples if m.name.endswith("_total")}

    async def scenario() -> None:
        await runtime.recover([0])
        writer = asyncio.create_task(runtime.write_batches())
        for first in range(0, len(lines), 200):
            batch = [Message(topics.RAW, 0, first + n, value, None, message_key(doc))
                     for n, (value, doc) in enumerate(zip(lines[first : first + 200], docs[first : first + 200]))]
            await _durable(runtime, batch)
        writer.cancel()

    asyncio.run(scenario())
    offline = subprocess.run([sys.executable, "-m", "fwjr", "jobs", str(archive)], capture_output=True, check=True)
    said = [_REJECTED_LINE.match(line) for line in offline.stderr.decode().splitlines() if line.startswith("rejected: ")]
    assert said and all(said), offline.stderr.decode()[-2000:]
    offline_rejects = Counter((m["reason"], ast.literal_eval(m["field"])) for m in said)
    offline_jobs = [orjson.loads(line) for line in offline.stdout.splitlines()]
    labels = Counter(Rejection(reason=m["reason"], field="", value="", source="").label() for m in said)
    assert len(labels) >= 5, f"every kind of malformed document should be in the set: {labels}"

    letters = records_since(bootstrap, topics.DLQ, dlq_from)
    assert Counter((dict(l.headers())["reason"].decode(), dict(l.headers())["field"].decode()) for l in letters) == offline_rejects
    said_by_line = {int(m["source"].rsplit(":", 1)[1]): (m["reason"], ast.literal_eval(m["field"])) for m in said}
    for letter in letters:  # each letter is its line: same verdict, same bytes and key, its offset named
        headers = {name: value.decode() for name, value in letter.headers()}
        offset = int(headers["source"].removeprefix(f"{topics.RAW}/0@"))
        assert said_by_line[offset + 1] == (headers["reason"], headers["field"])
        assert (letter.value(), letter.key()) == (lines[offset], message_key(docs[offset]))

    rejected_after = {m.labels["reason"]: m.value for m in TELEMETRY.rejected.collect()[0].samples if m.name.endswith("_total")}
    assert {r: rejected_after[r] - rejected_before.get(r, 0) for r in rejected_after if rejected_after[r] > rejected_before.get(r, 0)} == labels
    assert {row["reason"]: row["count"] for row in reads.dlq_counts(empty, 0, NOW + 86400)} == labels

    records = records_since(bootstrap, topics.JOBS, jobs_from)
    by_identity = Counter(record.key().decode() for record in records)
    first_said = {job["identity"]: job for job in reversed(offline_jobs)}
    assert set(by_identity) == set(first_said) and max(by_identity.values()) == 1  # no crash: once each
    assert store_helpers.row_count(empty, "jobs") == len(first_said)
    for record in records:
        assert orjson.loads(record.value()) == first_said[record.key().decode()]
        assert dict(record.headers())[topics.JOB_SOURCE_HEADER] == b"0"


def test_consumer_lag_skips_a_partition_whose_high_watermark_is_not_known_yet() -> None:
    committed = {("fwjr.raw", 0): 9, ("fwjr.raw", 1): 4}
    highwaters = {("fwjr.raw", 0): 15, ("fwjr.raw", 1): None, ("fwjr.raw", 2): 3}
    assert consumer_lag(highwaters, committed) == (15 - 9 - 1) + 3
