"""What one worker process holds between batches: the helper process, the sink, the write queue.

The Faust agent stays a small async function (see streams/app.py): it hands each batch to
`submit` and goes back to take the next one. The batch is processed in the helper process
(streams/preparer.py) while Faust keeps fetching; `write_batches` then runs the store steps of
the commit protocol (streams/checkpoint.py) in the order batches were taken, retrying a batch
until the store has it, and only then releases its events, so Kafka offsets are committed
only for batches the store holds.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from fwjr import topics
from fwjr.config import Settings
from fwjr.store.connection import Store
from streams import preparer as helper
from streams.checkpoint import CommitProtocol
from streams.pipeline import Message
from streams.preparer import PreparedBatch
from streams.telemetry import TELEMETRY

log = logging.getLogger("fwjr.worker")

# Batches processed ahead of the store write; more only holds more memory.
IN_FLIGHT_BATCHES = 2
# Pause between attempts to start a helper that keeps dying (out of memory, say).
_RESTART_PAUSE = 2.0
# Pause between attempts to write a batch the store refused or could not take.
_RETRY_PAUSE = 2.0


@dataclass(slots=True)
class _Batch:
    """A taken batch on its way to the store: kept whole until written, in case the helper dies."""

    messages: list[Message]
    on_durable: Callable[[], None]
    helper: ProcessPoolExecutor
    prepared: asyncio.Future


def _spawn_helper(bootstrap: str) -> ProcessPoolExecutor:
    # spawn, not fork: the worker runs threads (waitress, librdkafka, chDB).
    return ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=helper.start,
        initargs=(bootstrap, os.getpid()),
    )


class Runtime:
    """The worker's state: resumes from the store, then writes each prepared batch in order."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.protocol = CommitProtocol(store, settings.dedupe_days)
        self.committed: dict[tuple[str, int], int] = {}
        self.partitions: list[int] = []
        self.helper = _spawn_helper(settings.bootstrap)
        self.last_event_ts = 0
        self.ready_file: Path | None = None
        self._queue: asyncio.Queue[_Batch] | None = None
        self._unwritten: deque[_Batch] = deque()  # taken, not yet in the store, in order
        self._helper_ready = asyncio.Event()  # set once the helper's pipeline holds the store's state

    async def recover(self, partitions: list[int]) -> None:
        """Resume the assigned partitions exactly where the store says they stopped.

        Faust calls this after revocation waited for every taken event to be acked, so no
        batch is in flight: the helper's pipeline can be replaced. Batches taken meanwhile wait
        in `submit`: processed by a pipeline that does not yet know the store's offsets, a
        redelivered message would be counted twice.
        """
        self._helper_ready.clear()
        self.partitions = partitions
        await self._resume_helper()
        self._helper_ready.set()
        if self.ready_file is not None:
            self.ready_file.write_text(str(time.time()))

    async def submit(self, messages: list[Message], on_durable: Callable[[], None]) -> None:
        """Start processing a batch in the helper; returns at once unless batches are piling up."""
        await self._helper_ready.wait()
        batch = _Batch(messages, on_durable, self.helper, self._prepare(messages))
        self._unwritten.append(batch)
        await self._pending().put(batch)

    async def write_batches(self) -> None:
        """Forever: the next prepared batch to the store (retried until it is there), then its acks."""
        pending = self._pending()
        while True:
            batch = await pending.get()
            prepared = await self._prepared(batch)
            self._count(prepared)
            await self._write(prepared)
            self.protocol.release(batch.on_durable)
            self._unwritten.popleft()
            self.committed.update(prepared.last_offsets)

    def close(self) -> None:
        self.helper.shutdown(wait=True, cancel_futures=True)

    def _prepare(self, messages: list[Message]) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        try:
            return loop.run_in_executor(self.helper, helper.prepare, messages)
        except BrokenProcessPool as exc:  # the writer restarts the helper when it reaches this batch
            failed = loop.create_future()
            failed.set_exception(exc)
            return failed

    async def _prepared(self, batch: _Batch) -> PreparedBatch:
        """The batch processed; if the helper died, a new one resumes from the store and redoes it."""
        while True:
            try:
                return await batch.prepared
            except BrokenProcessPool as exc:
                if batch.helper is self.helper:  # else a newer helper already has it: wait for that
                    await self._restart_helper(exc)

    async def _restart_helper(self, cause: BaseException) -> None:
        """A new helper, reset from the store, redoing every unwritten batch in the order taken.

        Batches are written in order, so everything before the failed batch is in the store
        and nothing after it; no new batch may reach the helper before the reset and the
        redone ones, or the pipeline would skip their offsets as already counted.
        """
        log.error("the helper process died (%s); starting a new one and resuming from the store", cause)
        self._helper_ready.clear()
        while True:
            self.helper.shutdown(wait=False, cancel_futures=True)
            self.helper = _spawn_helper(self.settings.bootstrap)
            try:
                await self._resume_helper()
                break
            except BrokenProcessPool as exc:
                log.error("the new helper process died too (%s); trying again in %.0f s", exc, _RESTART_PAUSE)
                await asyncio.sleep(_RESTART_PAUSE)
        for batch in self._unwritten:
            batch.helper, batch.prepared = self.helper, self._prepare(batch.messages)
        self._helper_ready.set()

    async def _resume_helper(self) -> None:
        recovery = await asyncio.to_thread(self.protocol.recover, topics.RAW, self.partitions)
        await asyncio.get_running_loop().run_in_executor(
            self.helper, helper.reset, recovery.committed, set(recovery.identities)
        )
        self.committed = dict(recovery.committed)

    def _pending(self) -> asyncio.Queue:
        if self._queue is None:
            self._queue = asyncio.Queue(maxsize=IN_FLIGHT_BATCHES)
        return self._queue

    async def _write(self, prepared: PreparedBatch) -> None:
        """Steps 2-3 of the commit protocol, retried until the store has the batch.

        A failed attempt may have left some of its tables written: the retry undoes them
        first, or those tables would hold the batch twice once the ledger marks it.
        """
        write = prepared.write
        if write.ledger is None:
            return
        started = time.perf_counter()
        failed = False
        while True:
            try:
                if failed:
                    await asyncio.to_thread(self.protocol.undo, write)
                await asyncio.to_thread(self.protocol.write, write)
                break
            except Exception as exc:  # the store is down or refused the batch: retry, never drop
                failed = True
                TELEMETRY.store_errors.inc()
                log.error("store write of batches %s failed, retrying in %.0f s: %s", write.batches, _RETRY_PAUSE, exc)
                await asyncio.sleep(_RETRY_PAUSE)
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
