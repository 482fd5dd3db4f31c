"""Putting status events on `service.status`: by hand, from a scenario's outages, from a poller."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable

import msgspec
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from fwjr.topics import SERVICE_STATUS

_encode = msgspec.json.Encoder().encode


def scenario_status_docs(scenario: dict | None, start_ts: int, source: str = "scenario") -> list[dict]:
    """Status events for a scenario's `outages: [{service, start_minute, minutes, state}]`.

    Each outage is a non-up event at its start and an "up" event at its end, minutes counted
    from `start_ts` (the first generated FWJR). A malformed outage is an error naming it.
    """
    docs = []
    for index, raw in enumerate((scenario or {}).get("outages") or []):
        where = f"scenario outages[{index}]"
        if not isinstance(raw, dict):
            raise ValueError(f"{where}: expected an object, got {raw!r}")
        missing = {"service", "start_minute", "minutes"} - set(raw)
        if missing:
            raise ValueError(f"{where}: missing {', '.join(sorted(missing))}")
        state = raw.get("state", "down")
        if state not in ("degraded", "down"):
            raise ValueError(f"{where}: state must be degraded or down, got {state!r}")
        try:
            begin = start_ts + int(float(raw["start_minute"]) * 60)
            end = begin + int(float(raw["minutes"]) * 60)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: start_minute and minutes must be numbers, got {raw!r}") from None
        message = str(raw.get("message", f"rehearsal: {raw['service']} {state}"))
        docs.append({"service": raw["service"], "state": state, "ts": begin, "message": message, "source": source})
        docs.append({"service": raw["service"], "state": "up", "ts": end, "message": "rehearsal: recovered", "source": source})
    return sorted(docs, key=lambda d: d["ts"])


def publish_status(producer: Producer, docs: Iterable[dict], topic: str = SERVICE_STATUS) -> int:
    """Send status documents (keyed by service) and wait until the broker has them; how many were sent."""
    failures: list[str] = []

    def delivered(err: object, _msg: object) -> None:
        if err is not None:
            failures.append(str(err))

    sent = 0
    for doc in docs:
        key = str(doc.get("service", "")).encode()
        producer.produce(topic, value=_encode(doc), key=key, on_delivery=delivered)
        sent += 1
    remaining = producer.flush(30)
    if remaining or failures:
        raise RuntimeError(f"service.status: {remaining} events undelivered, {len(failures)} failed (first: {failures[:1]})")
    return sent


def wait_consumed(bootstrap: str, timeout: float, topic: str = SERVICE_STATUS) -> bool:
    """Whether the workers (which store the status history) and the alerter (which names the
    outages in its alerts) consumed the status topic to its end within `timeout` seconds.

    A rehearsal sends an hour of FWJRs in seconds; letting both see the outages first makes the
    alerts name them exactly as they would in the live incident.
    """
    from fwjr.kafka.publish import wait_drained
    from fwjr.topics import ALERTER_INPUT_GROUP

    deadline = time.monotonic() + timeout
    try:
        wait_drained(bootstrap, timeout=timeout, topic=topic)
        wait_drained(bootstrap, timeout=max(deadline - time.monotonic(), 0.0), topic=topic, group=ALERTER_INPUT_GROUP)
        return True
    except TimeoutError:
        return False


def rehearse_outages(scenario: dict | None, start_ts: int, settings: object | None = None, wait: float = 15.0) -> int:
    """Publish a scenario's outages before its FWJRs, and give the worker `wait` seconds to read them.

    How many status events were sent (0 when the scenario has no outages). `settings`
    defaults to the process's (FWJR_* environment).
    """
    import sys

    from fwjr.config import settings as current_settings
    from fwjr.kafka.producer import make_producer

    settings = settings or current_settings()

    docs = scenario_status_docs(scenario, start_ts)
    if not docs:
        return 0
    sent = publish_status(make_producer(settings.bootstrap), docs)
    if not wait_consumed(settings.bootstrap, wait):
        print(f"warning: the worker and the alerter did not both read the {sent} scenario status events within {wait:.0f} s; "
              "alerts judged before it does will not name the outages", file=sys.stderr)
    return sent


def topic_values(bootstrap: str, topic: str, timeout: float = 10.0) -> list[bytes]:
    """Every committed message value in `topic` up to its current end, oldest first per partition.

    The end is the broker's end-of-partition event, not the high watermark: a topic written in
    transactions (fwjr.alerts) ends with a commit marker, which is no message.
    """
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"fwjr-cli-{uuid.uuid4().hex}", "enable.auto.commit": False,
                         "isolation.level": "read_committed", "enable.partition.eof": True})
    try:
        partitions = consumer.list_topics(topic, timeout=timeout).topics[topic].partitions
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout) for p in partitions}
        wanted = {p for p, (lo, hi) in ends.items() if hi > lo}
        consumer.assign([TopicPartition(topic, p, ends[p][0]) for p in wanted])
        values: list[bytes] = []
        while wanted:
            message = consumer.poll(timeout)
            if message is None:
                raise TimeoutError(f"{topic}: no message within {timeout:.0f} s while reading to its end")
            if message.error() is not None:
                if message.error().code() == KafkaError._PARTITION_EOF:
                    wanted.discard(message.partition())
                continue
            values.append(message.value() or b"")
        return values
    finally:
        consumer.close()
