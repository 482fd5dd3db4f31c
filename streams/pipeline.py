"""The worker's per-batch work, free of Faust and of I/O: messages in, one Flush out.

Keeping this pure is what lets the hot path run near the decode rate (no per-event
table writes or awaits) and what lets the exactly-once logic be tested on its own.
A batch of Kafka messages becomes one Flush: the rows for the store, tagged with a
batch id per partition, plus the job records and dead letters to publish.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

import msgspec

from fwjr.aggregate import Aggregator
from fwjr.model import Job, Rejection
from fwjr.reader import decode_message, to_job

STORE_PRECISION = "minute"
_encode = msgspec.json.Encoder().encode


class Message(NamedTuple):
    """What the pipeline needs of one Kafka record (a tuple: batches cross to the helper process)."""

    topic: str
    partition: int
    offset: int
    value: bytes | None
    content_type: str | None = None
    key: bytes | None = None


@dataclass(slots=True)
class DeadLetter:
    """A rejected message: the reason, and the original bytes, for fwjr.dlq."""

    message: Message
    rejection: Rejection

    def headers(self) -> list[tuple[str, bytes]]:
        return self.rejection.dlq_headers()


@dataclass(slots=True)
class PartitionBatch:
    """Everything one flush writes for one partition, under one batch id."""

    batch: str
    topic: str
    partition: int
    first_offset: int
    last_offset: int
    aggregator: Aggregator
    jobs: list[tuple[Job, int]] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)


@dataclass(slots=True)
class Flush:
    """One batch of messages, processed: what the sink writes and the worker publishes."""

    partitions: list[PartitionBatch]
    skipped: int = 0
    duplicates: int = 0


def batch_id(topic: str, partition: int, first_offset: int, last_offset: int) -> str:
    """A stream batch id, `topic/partition/first-last`: the input range it holds.

    The store judges a batch committed by comparing its first offset with the ledger
    (fwjr.store.ledger.uncommitted_batches), so the id must name its range, nothing else.
    """
    return f"{topic}/{partition}/{first_offset}-{last_offset}"


class Pipeline:
    """Decode, validate, dedupe and merge batches, remembering what was already counted.

    `committed` is the last offset per (topic, partition) known to be in the store:
    messages at or below it were written before a restart and are skipped. `seen`
    holds identities counted within the dedupe retention.
    """

    def __init__(self, committed: dict[tuple[str, int], int] | None = None, seen: set[str] | None = None) -> None:
        self.committed: dict[tuple[str, int], int] = dict(committed or {})
        self.seen: set[str] = set() if seen is None else seen

    def process(self, messages: Iterable[Message]) -> Flush:
        """One Flush for the batch; every message ends up counted, deduped, dead-lettered or skipped."""
        by_partition: dict[tuple[str, int], PartitionBatch] = {}
        skipped = duplicates = 0
        for message in messages:
            tp = (message.topic, message.partition)
            if message.offset <= self.committed.get(tp, -1):
                skipped += 1
                continue
            part = by_partition.get(tp)
            if part is None:
                part = PartitionBatch(
                    batch="",
                    topic=message.topic,
                    partition=message.partition,
                    first_offset=message.offset,
                    last_offset=message.offset,
                    aggregator=Aggregator(STORE_PRECISION, seen=self.seen),
                )
                by_partition[tp] = part
            part.last_offset = max(part.last_offset, message.offset)
            source = f"{message.topic}/{message.partition}@{message.offset}"
            result = to_job(source, decode_message(message.value, message.content_type, source))
            if type(result) is Rejection:
                part.dead.append(DeadLetter(message, result))
            elif part.aggregator.add(result):
                part.jobs.append((result, message.offset))
            else:
                duplicates += 1
        for part in by_partition.values():
            part.batch = batch_id(part.topic, part.partition, part.first_offset, part.last_offset)
        return Flush(partitions=list(by_partition.values()), skipped=skipped, duplicates=duplicates)

    def committed_through(self, flush: Flush) -> None:
        """Record that the flush goes to the store, so this pipeline never counts its offsets again.

        The writer retries a batch until the store has it, and a worker that dies first
        starts from a fresh pipeline built from the store's ledger.
        """
        for part in flush.partitions:
            tp = (part.topic, part.partition)
            self.committed[tp] = max(self.committed.get(tp, -1), part.last_offset)


def job_record(job: Job) -> bytes:
    """The fwjr.jobs message body for a merged job."""
    return _encode(job)
