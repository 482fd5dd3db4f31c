"""What one worker process holds between batches: the helper process, the sink, the write queue.

The Faust agent stays a small async function (see streams/app.py): it hands each batch to
`submit` and goes back to take the next one. The batch is processed in the helper process
(streams/helper.py) while Faust keeps fetching; `write_batches` then writes the batches to
the store in the order they were taken and only then calls back to ack their events, so
Kafka offsets are committed only for batches the store holds.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from fwjr.alerting.rule import Outcome
from fwjr.config import Settings
from fwjr.store import Store
from streams import helper, topics
from streams.helper import PreparedBatch
from streams.pipeline import Message
from streams.sink import StoreSink
from streams.telemetry import TELEMETRY

log = logging.getLogger("fwjr.worker")

# Batches processed ahead of the store write; more only holds more memory.
IN_FLIGHT_BATCHES = 2

Observer = Callable[[list[tuple[int, list[Outcome]]]], None]


class Runtime:
    """The worker's state: resumes from the store, then writes each prepared batch in order."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.sink = StoreSink(store, settings.dedupe_days)
        self.committed: dict[tuple[str, int], int] = {}
        # spawn, not fork: this process runs threads (waitress, librdkafka, chDB).
        self.helper = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=helper.start,
            initargs=(settings.bootstrap,),
        )
        self.last_event_ts = 0
        self.ready_file: Path | None = None
        self.observers: list[Observer] = []  # called with each durable batch's job outcomes (alerting)
        self._queue: asyncio.Queue[tuple[Awaitable[PreparedBatch], Callable[[], None]]] | None = None

    async def recover(self, partitions: list[int]) -> None:
        """Resume the assigned partitions exactly where the store says they stopped.

        Faust calls this after revocation waited for every taken event to be acked, so no
        batch is in flight: the helper's pipeline can be replaced.
        """
        committed, seen = await asyncio.to_thread(self.sink.recover, topics.RAW, partitions)
        await asyncio.get_running_loop().run_in_executor(self.helper, helper.reset, committed, seen)
        self.committed = dict(committed)
        log.info("recovered partitions %s: committed offsets %s, %d identities remembered", partitions, committed, len(seen))
        if self.ready_file is not None:
            self.ready_file.write_text(str(time.time()))

    async def submit(self, messages: list[Message], on_durable: Callable[[], None]) -> None:
        """Start processing a batch in the helper; returns at once unless batches are piling up."""
        prepared = asyncio.get_running_loop().run_in_executor(self.helper, helper.prepare, messages)
        await self._pending().put((prepared, on_durable))

    async def write_batches(self) -> None:
        """Forever: the next prepared batch to the store (retried until it is there), then its acks."""
        pending = self._pending()
        while True:
            prepared_future, on_durable = await pending.get()
            prepared = await prepared_future
            self._count(prepared)
            await self._write(prepared)
            on_durable()
            self.committed.update(prepared.last_offsets)
            for observe in self.observers:
                await asyncio.to_thread(observe, prepared.outcomes)

    def close(self) -> None:
        self.helper.shutdown(wait=False, cancel_futures=True)

    def _pending(self) -> asyncio.Queue:
        if self._queue is None:
            self._queue = asyncio.Queue(maxsize=IN_FLIGHT_BATCHES)
        return self._queue

    async def _write(self, prepared: PreparedBatch) -> None:
        if not prepared.inserts:
            return
        started = time.perf_counter()
        while True:
            try:
                await asyncio.to_thread(self.sink.write, prepared.inserts)
                break
            except Exception as exc:  # the store is down or refused the batch: retry, never drop
                TELEMETRY.store_errors.inc()
                log.error("store write of batch %s failed, retrying in 2 s: %s", prepared.last_offsets, exc)
                await asyncio.sleep(2.0)
        TELEMETRY.flush_seconds.observe(time.perf_counter() - started)

    def _count(self, prepared: PreparedBatch) -> None:
        TELEMETRY.events.inc(prepared.events)
        TELEMETRY.skipped.inc(prepared.skipped)
        TELEMETRY.duplicates.inc(prepared.duplicates)
        for reason, count in prepared.rejected.items():
            TELEMETRY.rejected.labels(reason=reason).inc(count)
        for message in prepared.rejections:
            log.warning("dead-lettered %s", message)
        if prepared.undelivered:
            log.warning("%d job records or dead letters still queued for Kafka after the publish timeout", prepared.undelivered)
        if prepared.newest_ts > self.last_event_ts:
            self.last_event_ts = prepared.newest_ts
            TELEMETRY.last_event_ts.set(prepared.newest_ts)
