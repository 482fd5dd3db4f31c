"""Reading what a test's run published to a shared topic: from the offsets noted before it to the end.

The session broker's fwjr.jobs and fwjr.dlq are shared by every test of the session (tests run one
after another), so a test notes each partition's end before it runs and reads from there.
"""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer, Message, TopicPartition

from fwjr import topics
from fwjr.kafka.publish import committed_offsets, end_offsets
from tests.waiting import wait_until


def topic_end(bootstrap: str, topic: str) -> dict[int, int]:
    """The next offset of every partition of `topic`."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"t-{uuid.uuid4().hex}"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}
    finally:
        consumer.close()


def records_since(bootstrap: str, topic: str, since: dict[int, int]) -> list[Message]:
    """Every record of `topic` from the offsets in `since` to the topic's current end."""
    ends = topic_end(bootstrap, topic)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"t-{uuid.uuid4().hex}", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, p, since.get(p, 0)) for p in ends if ends[p] > since.get(p, 0)])
    records: list[Message] = []
    wanted = sum(ends[p] - since.get(p, 0) for p in ends)
    deadline = time.monotonic() + 60
    try:
        while len(records) < wanted:
            assert time.monotonic() < deadline, f"read {len(records)} of {wanted} records of {topic}"
            records.extend(r for r in consumer.consume(500, timeout=0.5) if r.error() is None)
    finally:
        consumer.close()
    return records


def wait_alerter_caught_up(bootstrap: str, timeout: float = 120) -> None:
    """Until the alerter's input offsets reach fwjr.jobs' current end: the alerter commits them
    in the transaction of its decisions, so every decision on those jobs is then on fwjr.alerts."""
    jobs_end = end_offsets(bootstrap, topics.JOBS)

    def caught_up() -> bool:
        done = committed_offsets(bootstrap, jobs_end, topics.JOBS, topics.ALERTER_INPUT_GROUP)
        return all(done.get(p, -1) >= end for p, end in jobs_end.items() if end > 0)

    wait_until(caught_up, timeout, "the alerter to read every job record")
