"""The worker's helper process: decode, merge, fold, publish and build the store rows of a batch.

Faust's per-event machinery and the merge both need the interpreter. In one process they
take turns under one GIL, and take_events() does not fill the next batch while the agent
works on this one. So the agent only hands each batch over (its events stay unacked) and
this process, on the other core, runs the pure Pipeline, publishes the job records and
dead letters, and builds every row the store will get. The store-owning process is left
with the inserts and the acks, in batch order (streams/writer.py).

It runs in a `ProcessPoolExecutor` of one worker, so calls are served one at a time in the
order they were made; the state below is that process's own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from confluent_kafka import Producer

from fwjr import topics
from fwjr.devstack.processes import children, cmdline, terminate_with_parent
from fwjr.gcpause import collector_paused
from fwjr.kafka.producer import make_producer
from streams.pipeline import Flush, Message, Pipeline, job_record
from streams.sink import BatchWrite, store_tables

_PUBLISH_TIMEOUT = 30.0


@dataclass(slots=True)
class PreparedBatch:
    """A processed batch as the store-owning process needs it: its store write, progress and counts."""

    write: BatchWrite
    last_offsets: dict[tuple[str, int], int]
    events: int
    skipped: int
    duplicates: int
    rejected: dict[str, int] = field(default_factory=dict)
    rejections: list[str] = field(default_factory=list)
    newest_ts: int = 0
    undelivered: int = 0  # records librdkafka still retries after the publish timeout


class BatchPreparer:
    """The pipeline of one worker plus the producer of its job records and dead letters."""

    def __init__(self, bootstrap: str) -> None:
        self.pipeline = Pipeline()
        self.producer = make_producer(bootstrap)
        self.job_partitions = _partition_count(self.producer, topics.JOBS)

    def reset(self, committed: dict[tuple[str, int], int], seen: set[str]) -> None:
        """Resume from what the store holds (called on every partition assignment)."""
        self.pipeline = Pipeline(committed=committed, seen=seen)

    def prepare(self, messages: list[Message]) -> PreparedBatch:
        """Step 1 of the commit protocol (streams.checkpoint): process, publish (at-least-once,
        before the store write) and build the inserts.

        The cyclic garbage collector is paused meanwhile (fwjr.gcpause): its passes over a
        batch's documents, jobs and rows cost ~20% of this work.
        """
        with collector_paused():
            return self._prepare(messages)

    def _prepare(self, messages: list[Message]) -> PreparedBatch:
        flush = self.pipeline.process(messages)
        prepared = PreparedBatch(
            write=store_tables(flush),
            last_offsets={(p.topic, p.partition): p.last_offset for p in flush.partitions},
            events=len(messages),
            skipped=flush.skipped,
            duplicates=flush.duplicates,
        )
        self._publish(flush, prepared)
        self.pipeline.committed_through(flush)
        return prepared

    def _publish(self, flush: Flush, prepared: PreparedBatch) -> None:
        for part in flush.partitions:
            source = [(topics.JOB_SOURCE_HEADER, str(part.partition).encode())]
            target = part.partition % self.job_partitions
            for job, _ in part.jobs:
                self._produce(topics.JOBS, job.identity.encode(), job_record(job), source, target)
                prepared.newest_ts = max(prepared.newest_ts, job.ts)
            for letter in part.dead:
                reason = letter.rejection.label()
                prepared.rejected[reason] = prepared.rejected.get(reason, 0) + 1
                prepared.rejections.append(letter.rejection.message())
                self._produce(topics.DLQ, letter.message.key, letter.message.value or b"", letter.headers())
        prepared.undelivered = self.producer.flush(_PUBLISH_TIMEOUT)

    def _produce(self, topic: str, key: bytes | None, value: bytes, headers: list | None = None, partition: int = -1) -> None:
        while True:
            try:
                self.producer.produce(topic, value=value, key=key, headers=headers, partition=partition)
                return
            except BufferError:
                self.producer.poll(0.05)


def _partition_count(producer: Producer, topic: str) -> int:
    """How many partitions `topic` has; an error naming it when the broker does not know it."""
    found = producer.list_topics(topic, timeout=30).topics.get(topic)
    if found is None or found.error is not None or not found.partitions:
        raise RuntimeError(f"topic {topic!r} is missing on the broker ({found.error if found else 'not listed'}); "
                           "create the topics first (fwjr up does)")
    return len(found.partitions)


_preparer: BatchPreparer | None = None


def start(bootstrap: str, worker: int) -> None:
    """Executor initializer: this process's preparer, ended by Linux when the worker dies.

    A SIGKILLed worker cannot tell its helper to stop, and the helper holds both ends of the
    executor's call queue, so it would wait for work forever. The worker spawns helpers from
    its event-loop thread, which lives as long as the worker.
    """
    global _preparer
    terminate_with_parent()
    if os.getppid() != worker:  # the worker died before the request took effect
        os._exit(1)
    _preparer = BatchPreparer(bootstrap)


def reset(committed: dict[tuple[str, int], int], seen: set[str]) -> None:
    """Executor call: see BatchPreparer.reset."""
    _active().reset(committed, seen)


def prepare(messages: list[Message]) -> PreparedBatch:
    """Executor call: see BatchPreparer.prepare."""
    return _active().prepare(messages)


def helper_pids(worker: int) -> list[int]:
    """The helper processes of a worker (multiprocessing's resource tracker is its child too)."""
    return [child for child in children(worker) if "multiprocessing.spawn" in " ".join(cmdline(child))]


def _active() -> BatchPreparer:
    if _preparer is None:
        raise RuntimeError("the helper process was started without its initializer (streams.preparer.start)")
    return _preparer
