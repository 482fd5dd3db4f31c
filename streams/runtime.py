"""What one worker process holds between batches: the pipeline, the sink, the publisher.

The Faust agent stays a small async function (see streams/app.py); everything it
needs lives here, created once per process.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

from confluent_kafka import Producer

from fwjr.config import Settings
from fwjr.store import Store
from streams import topics
from streams.pipeline import Flush, Message, Pipeline, job_record, reason_label
from streams.sink import StoreSink
from streams.telemetry import TELEMETRY

log = logging.getLogger("fwjr.worker")


class Runtime:
    """The worker's state: resumes from the store, writes each batch, then publishes it."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.sink = StoreSink(store, settings.dedupe_days)
        self.pipeline = Pipeline()
        self.producer = Producer(
            {
                "bootstrap.servers": settings.bootstrap,
                "enable.idempotence": True,
                "linger.ms": 20,
                "compression.type": "lz4",
            }
        )
        self.last_event_ts = 0
        self.ready_file: Path | None = None
        self.observers: list[Callable[[Flush], None]] = []  # called with each durable Flush (alerting)

    def recover(self, partitions: list[int]) -> None:
        """Resume the assigned partitions exactly where the store says they stopped."""
        self.pipeline = self.sink.recover(topics.RAW, partitions)
        log.info(
            "recovered partitions %s: committed offsets %s, %d identities remembered",
            partitions,
            self.pipeline.committed,
            len(self.pipeline.seen),
        )
        if self.ready_file is not None:
            self.ready_file.write_text(str(time.time()))

    async def handle(self, messages: list[Message]) -> None:
        """Process one batch and make it durable; returns only once the store has it.

        Job records and dead letters are published first (at-least-once: a crash
        before the store write republishes them on redelivery), then the store write;
        the caller acks the Kafka messages after this returns, so Faust commits
        offsets only for batches the store already holds.
        """
        flush = self.pipeline.process(messages)
        TELEMETRY.events.inc(len(messages))
        TELEMETRY.skipped.inc(flush.skipped)
        TELEMETRY.duplicates.inc(flush.duplicates)
        if not flush.partitions:
            return
        self._publish(flush)
        await asyncio.to_thread(self.producer.flush, 30.0)
        started = time.perf_counter()
        while True:
            try:
                await asyncio.to_thread(self.sink.write, flush)
                break
            except Exception as exc:  # the store is down or refused the batch: retry, never drop
                TELEMETRY.store_errors.inc()
                log.error("store write of %d partitions failed, retrying in 2 s: %s", len(flush.partitions), exc)
                await asyncio.sleep(2.0)
        self.pipeline.committed_through(flush)
        TELEMETRY.flush_seconds.observe(time.perf_counter() - started)
        for observe in self.observers:
            await asyncio.to_thread(observe, flush)

    def _publish(self, flush: Flush) -> None:
        """Job records to fwjr.jobs and rejects to fwjr.dlq; the store keeps the exact counts."""
        newest = self.last_event_ts
        for part in flush.partitions:
            for job, _ in part.jobs:
                self._produce(topics.JOBS, job.identity.encode(), job_record(job))
                newest = max(newest, job.ts)
            for letter in part.dead:
                TELEMETRY.rejected.labels(reason=reason_label(letter.rejection)).inc()
                self._produce(topics.DLQ, letter.message.key, letter.message.value or b"", letter.headers())
                log.warning("dead-lettered %s", letter.rejection.message())
        self.last_event_ts = newest
        TELEMETRY.last_event_ts.set(newest)

    def _produce(self, topic: str, key: bytes | None, value: bytes, headers: list | None = None) -> None:
        while True:
            try:
                self.producer.produce(topic, value=value, key=key, headers=headers)
                return
            except BufferError:
                self.producer.poll(0.05)
