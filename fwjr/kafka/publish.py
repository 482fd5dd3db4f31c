"""Publishing FWJRs to fwjr.raw with confluent-kafka, and waiting for the worker to drain them.

Messages are keyed by FWJR identity, so every copy of one report lands on one partition
(where the worker's dedupe sees it). JSON is the fast path and is sent as the original
bytes when they were read as JSON lines; Avro goes out in the Avro single-object
encoding. A `content-type` header says which.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from fwjr.errors import RejectedDocument
from fwjr.merge import merge_document
from fwjr.model import Rejection
from fwjr.reader import CONTENT_TYPE_AVRO, CONTENT_TYPE_JSON, expand_paths, iter_documents
from fwjr.topics import CONSUMER_GROUP, RAW

# While the group coordinator loads or moves (a broker start, a restart), offset reads fail
# with these codes for a moment; asking again is the documented remedy.
_COORDINATOR_MOVING = (KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_LOAD_IN_PROGRESS, KafkaError.COORDINATOR_NOT_AVAILABLE)
_COORDINATOR_RETRIES = 10


@dataclass
class ProduceSummary:
    messages: int = 0
    bytes: int = 0
    unreadable: int = 0


def message_key(doc: object) -> bytes | None:
    """The FWJR identity as the message key; None for input that cannot be merged (still sent: the worker dead-letters it)."""
    if type(doc) is dict:
        wmaid = doc.get("wmaid")
        if type(wmaid) is str and wmaid:
            return wmaid.encode()
        try:
            return merge_document(doc).identity.encode()
        except (RejectedDocument, TypeError, ValueError, AttributeError, KeyError, OverflowError, RecursionError):
            return None
    return None


def encode(doc: object, fmt: str) -> tuple[bytes, str]:
    """(message value, content type) for one decoded document."""
    if fmt == "avro" and type(doc) is dict:
        from fwjr.avro_codec import encode_single

        return encode_single(doc), CONTENT_TYPE_AVRO
    return orjson.dumps(doc), CONTENT_TYPE_JSON


def messages_from_paths(paths: Iterable[str | Path], fmt: str) -> Iterator[tuple[bytes | None, bytes, str]]:
    """(key, value, content type) for every document in the files; JSON lines go out as their own bytes."""
    for path in expand_paths(paths):
        if path.suffix in (".jsonl", ".ndjson") and fmt == "json":
            with path.open("rb") as handle:
                for line in handle:
                    line = line.strip()
                    if line:
                        yield _key_of_line(line), line, CONTENT_TYPE_JSON
            continue
        for _source, doc in iter_documents(path):
            if type(doc) is Rejection:
                continue
            value, content_type = encode(doc, fmt)
            yield message_key(doc), value, content_type


def messages_from_generator(count: int, seed: int, fmt: str, minutes: float | None, start_ts: int | None, scenario: dict | None) -> Iterator[tuple[bytes | None, bytes, str]]:
    """Generated FWJRs as messages; malformed ones go out as their raw bytes, to be dead-lettered."""
    from fwjr.synth import generate_documents

    for doc in generate_documents(count, seed, start_ts=start_ts, minutes=minutes, scenario=scenario):
        if isinstance(doc, (bytes, bytearray)):
            yield None, bytes(doc), CONTENT_TYPE_JSON
        else:
            value, content_type = encode(doc, fmt)
            yield message_key(doc), value, content_type


def _key_of_line(line: bytes) -> bytes | None:
    try:
        return message_key(orjson.loads(line))
    except orjson.JSONDecodeError:
        return None


def publish(
    producer: Producer,
    messages: Iterable[tuple[bytes | None, bytes, str]],
    rate: float | None = None,
    topic: str = RAW,
) -> ProduceSummary:
    """Send every message (paced to `rate` per second when given) and wait until the broker has them all."""
    summary = ProduceSummary()
    started = time.monotonic()
    failures: list[str] = []

    def delivered(err: object, _msg: object) -> None:
        if err is not None:
            failures.append(str(err))

    for key, value, content_type in messages:
        while True:
            try:
                producer.produce(topic, value=value, key=key, headers=[("content-type", content_type.encode())], on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.05)
        summary.messages += 1
        summary.bytes += len(value)
        producer.poll(0)
        if rate:
            ahead = summary.messages / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
    remaining = producer.flush(120)
    if remaining or failures:
        raise RuntimeError(f"{remaining} messages undelivered, {len(failures)} failed (first: {failures[:1]})")
    return summary


def end_offsets(bootstrap: str, topic: str = RAW) -> dict[int, int]:
    """The high watermark of every partition: where the worker must have committed to be drained."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": CONSUMER_GROUP, "enable.auto.commit": False})
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        partitions = metadata.topics[topic].partitions
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}
    finally:
        consumer.close()


def committed_offsets(bootstrap: str, partitions: Iterable[int], topic: str = RAW, group: str = CONSUMER_GROUP) -> dict[int, int]:
    """A group's (by default the workers') committed offset per partition (-1 when none yet)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    wanted = [TopicPartition(topic, p) for p in partitions]
    try:
        for attempt in range(1, _COORDINATOR_RETRIES):
            try:
                return {tp.partition: tp.offset for tp in consumer.committed(wanted, timeout=10)}
            except KafkaException as exc:
                if exc.args[0].code() not in _COORDINATOR_MOVING:
                    raise
                time.sleep(0.2 * attempt)
        return {tp.partition: tp.offset for tp in consumer.committed(wanted, timeout=10)}
    finally:
        consumer.close()


def lag(bootstrap: str, topic: str = RAW) -> dict[int, int]:
    """Messages per partition that the worker has not yet written and committed."""
    ends = end_offsets(bootstrap, topic)
    done = committed_offsets(bootstrap, ends, topic)
    return {p: end - max(done.get(p, 0), 0) for p, end in ends.items()}


def wait_drained(
    bootstrap: str, timeout: float = 600.0, topic: str = RAW, group: str = CONSUMER_GROUP,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Return once the worker has written and committed everything in the topic so far.

    Offsets are committed only after the store holds a batch, so a zero lag means
    every produced FWJR is visible to queries. `progress` is told the messages left on each poll.
    """
    ends = end_offsets(bootstrap, topic)
    deadline = time.monotonic() + timeout
    while True:
        done = committed_offsets(bootstrap, ends, topic, group)
        behind = {p: end - done.get(p, -1) for p, end in ends.items() if end > 0 and done.get(p, -1) < end}
        if progress is not None:
            progress(sum(behind.values()))
        if not behind:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"worker still behind after {timeout:.0f} s (partition: messages left): {behind}")
        time.sleep(0.2)
