"""A worker stopped at each step of the commit protocol, then restarted: exact totals, and proof
that the recovery step for that point ran.

Real broker, real embedded store, the product's own preparer (streams.preparer.BatchPreparer) and
protocol (streams.checkpoint.CommitProtocol). A "worker" here is one consumer of a consumer
group with manual offset commits, driven through the protocol's steps one by one; a crash is
stopping between two steps and dropping that worker (its consumer closed without a commit).
The next worker recovers the way the real one does on start (`CommitProtocol.recover`, then a
preparer reset from it) and consumes to the end.

The set: batch A (committed whole), batch B (the one the crash interrupts; it repeats jobs of A)
and batch C (it repeats jobs of B), with malformed documents in each. The store must then
equal the offline reader's aggregate of every message, and the recovery's report must show the
repair for that point: B's rows deleted after a crash mid-insert, B's offsets skipped after a
crash between the ledger mark and the offset commit, the counted identities reloaded otherwise.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import orjson
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from fwjr import topics
from fwjr.aggregate import Aggregator
from fwjr.devstack.broker import KafkaBroker
from fwjr.model import Rejection
from fwjr.reader import decode_message, to_job
from fwjr.store import reads
from fwjr.store.connection import Store
from fwjr.synth.feed import generate_documents
from streams.checkpoint import CommitProtocol, Recovery
from streams.pipeline import Message
from streams.preparer import BatchPreparer, PreparedBatch
from tests.fixtures import store_helpers
from tests.fixtures.store import empty, store  # noqa: F401
from tests.fixtures.topic_reading import records_since, topic_end

pytestmark = pytest.mark.kafka

NOW = int(time.time())
BATCH_TABLES = ("agg", "errors", "jobs", "error_examples", "dlq_counts")
CRASH_POINTS = ("prepared", *(f"inserted:{table}" for table in BATCH_TABLES), "marked", "released")
A, B, C = 100, 115, 115  # batch sizes: B = 100 new + 15 of A's, C = 100 new + 15 of B's


def _documents(seed: int) -> list[bytes]:
    docs = [
        doc if isinstance(doc, bytes) else orjson.dumps(doc)
        for doc in generate_documents(300, seed, start_ts=NOW - 3 * 3600, minutes=60, malformed_share=0.06, duplicate_share=0)
    ]
    return docs[:100] + docs[100:200] + docs[:15] + docs[200:300] + docs[100:115]


def _offline(values: list[bytes]) -> tuple[Aggregator, int]:
    """What `fwjr aggregate` makes of these messages: the aggregator, and the number rejected."""
    aggregator, rejected = Aggregator("minute"), 0
    for offset, value in enumerate(values):
        job = to_job(f"offline@{offset}", decode_message(value, None, f"offline@{offset}"))
        if type(job) is Rejection:
            rejected += 1
        else:
            aggregator.add(job)
    return aggregator, rejected


@dataclass
class Worker:
    """One life of a worker: its consumer in the group, its preparer, its protocol, its recovery."""

    topic: str
    consumer: Consumer
    preparer: BatchPreparer
    protocol: CommitProtocol
    recovery: Recovery

    def take(self, count: int) -> list[Message]:
        messages: list[Message] = []
        deadline = time.monotonic() + 60
        while len(messages) < count:
            assert time.monotonic() < deadline, f"took {len(messages)} of {count} messages of {self.topic}"
            for record in self.consumer.consume(count - len(messages), timeout=1.0):
                assert record.error() is None, record.error()
                messages.append(Message(record.topic(), record.partition(), record.offset(), record.value(), None, record.key()))
        return messages

    def run(self, messages: list[Message], stop_after: str | None = None) -> PreparedBatch:
        """The protocol's steps for one batch, in order, stopping after `stop_after` (a crash)."""
        prepared = self.preparer.prepare(messages)
        if stop_after == "prepared":
            return prepared
        for insert in prepared.write.rows:
            self.protocol.insert(insert)
            if stop_after == f"inserted:{insert[0]}":
                return prepared
        self.protocol.mark(prepared.write)
        if stop_after == "marked":
            return prepared
        last = messages[-1].offset
        self.protocol.release(lambda: self.consumer.commit(offsets=[TopicPartition(self.topic, 0, last + 1)], asynchronous=False))
        return prepared

    def crash(self) -> None:
        """Gone without a word: the consumer leaves the group without committing anything."""
        self.consumer.close()
        self.preparer.producer.flush(10)


def _start(bootstrap: str, topic: str, group: str, db: Store) -> Worker:
    """A worker starting as the real one does: recover, reset the preparer from the recovery, consume."""
    protocol = CommitProtocol(db, dedupe_days=7)
    recovery = protocol.recover(topic, [0])
    preparer = BatchPreparer(bootstrap)
    preparer.reset(recovery.committed, set(recovery.identities))
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False, "auto.offset.reset": "earliest"}
    )
    consumer.assign([TopicPartition(topic, 0)])
    return Worker(topic, consumer, preparer, protocol, recovery)


def _produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for value in values:
        producer.produce(topic, value=value, partition=0)
    assert producer.flush(30) == 0


@pytest.fixture
def scenario(kafka_broker: KafkaBroker, kafka_topic: Callable[..., str], empty: Store):  # noqa: F811
    topic = kafka_topic(partitions=1, prefix="crash")
    values = _documents(seed=int(uuid.uuid4().int % 1000))
    _produce(kafka_broker.bootstrap, topic, values)
    return kafka_broker.bootstrap, topic, f"crash-{uuid.uuid4().hex[:8]}", values, empty, topic_end(kafka_broker.bootstrap, topics.JOBS)


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_a_crash_after_each_step_neither_loses_nor_doubles(point: str, scenario) -> None:
    bootstrap, topic, group, values, db, jobs_from = scenario
    first = _start(bootstrap, topic, group, db)
    first.run(first.take(A))
    counted_in_a = set(first.preparer.pipeline.seen)
    batch_b = first.run(first.take(B), stop_after=point)
    tables_of_b = [table for table, _, _ in batch_b.write.rows]
    assert tables_of_b == list(BATCH_TABLES), "batch B must write every table, or this crash point is not reached"
    first.crash()

    second = _start(bootstrap, topic, group, db)
    recovery = second.recovery
    (b_batch,) = batch_b.write.batches
    if point.startswith("inserted:"):
        assert recovery.deleted == (b_batch,)
    else:
        assert recovery.deleted == ()
    assert recovery.committed == {(topic, 0): (A + B - 1) if point in ("marked", "released") else A - 1}
    assert counted_in_a <= recovery.identities
    rest = second.run(second.take(C if point == "released" else B + C))
    repeats_of_a, repeats_of_b = 15 - _rejected(values[:15]), 15 - _rejected(values[100:115])
    if point == "marked":  # the ledger has B, Kafka's offset did not: B is skipped, C's repeats of B caught
        assert (rest.skipped, rest.duplicates) == (B, repeats_of_b)
    elif point == "released":  # Kafka resumes at C; its repeats of B are caught by the reloaded identities
        assert rest.write.batches == [f"{topic}/0/{A + B}-{A + B + C - 1}"]
        assert (rest.skipped, rest.duplicates) == (0, repeats_of_b)
    else:  # B comes again, whole: its repeats of A and C's repeats of B are caught
        assert rest.write.batches == [f"{topic}/0/{A}-{A + B + C - 1}"]
        assert (rest.skipped, rest.duplicates) == (0, repeats_of_a + repeats_of_b)
    assert repeats_of_a > 0 and repeats_of_b > 0
    second.crash()

    offline, rejected = _offline(values)
    stored = store_helpers.stored_rows(db, "agg", 0, NOW + 86400)
    assert stored == sorted(key + tuple(vector) for key, vector in offline.rows.items())
    assert store_helpers.stored_rows(db, "errors", 0, NOW + 86400) == sorted(key + (n,) for key, n in offline.errors.items())
    assert sum(row["count"] for row in reads.dlq_counts(db, 0, NOW + 86400)) == rejected > 0
    assert store_helpers.row_count(db, "jobs") == len(offline.seen)

    # fwjr.jobs is at-least-once: every stored job has its record, and a batch prepared again
    # after a crash before its ledger mark publishes its new jobs a second time.
    published = Counter(record.key().decode() for record in records_since(bootstrap, topics.JOBS, jobs_from))
    again = _offline(values[100:200])[0].seen if point == "prepared" or point.startswith("inserted:") else set()
    assert published == Counter(offline.seen) + Counter(again)


def _rejected(values: list[bytes]) -> int:
    return _offline(values)[1]
