"""The Faust app: the consumer shell around the pure pipeline.

Faust is used for what it does well (group membership, partition assignment,
batching with take_events, offset commits of acked events). Counts are not kept in
Faust tables: windowed tables lose their state on restart (faust-streaming/faust#412),
and a table's changelog commits independently of our store writes, which would break
exactly-once. The pipeline keeps window state in the merge core and the store keeps
the exact counts (see docs/architecture.md and docs/stream.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

import faust

from fwjr import topics
from fwjr.config import Settings
from streams.alerting import attach
from streams.pipeline import Message
from streams.telemetry import TELEMETRY
from streams.writer import Runtime


def _content_type(headers: object) -> str | None:
    items = headers.items() if isinstance(headers, dict) else (headers or ())
    for name, value in items:
        if name == "content-type":
            return value.decode() if isinstance(value, bytes) else str(value)
    return None


def _message(event: faust.types.EventT) -> Message:
    record = event.message
    return Message(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        value=record.value,
        content_type=_content_type(record.headers),
        key=record.key,
    )


def _ack(events: list[faust.types.EventT]) -> None:
    """Release the hold taken in the agent: Faust may now commit these offsets."""
    for event in events:
        event.ack()


def consumer_settings(settings: Settings) -> dict[str, object]:
    """How the worker's Faust consumer fetches, shared with bench/faust_floor.py.

    The batched drain (streams/transport.py) cut Faust's CPU per message; what then held the
    rate back was waiting: Faust's default 1 MB fetch per partition and 4,096-event stream
    buffer are smaller than one of our batches (`batch_size` events of a few KB each).
    """
    return {
        "broker": f"kafka-batched://{settings.bootstrap}",
        "consumer_max_fetch_size": 8 * 1024 * 1024,
        "stream_buffer_maxsize": 2 * settings.batch_size,
    }


def create_app(settings: Settings, runtime: Runtime) -> faust.App:
    """A Faust app whose one agent hands batches of fwjr.raw to the runtime, and a task that writes them."""
    app = faust.App(
        topics.CONSUMER_GROUP,
        **consumer_settings(settings),
        web_enabled=False,
        broker_commit_interval=0.2,
        broker_session_timeout=10.0,
        broker_heartbeat_interval=2.0,
        consumer_auto_offset_reset="earliest",
        topic_partitions=settings.raw_partitions,
        stream_wait_empty=True,
        producer_linger=0.02,
    )
    raw = app.topic(topics.RAW, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")

    @app.agent(raw)
    async def ingest(stream: faust.StreamT) -> None:
        """Hand each batch over and take the next; its events stay unacked until the store has it.

        take_events acks a batch when the agent comes back for the next one, so every event
        is held once more here (incref) and released by `_ack` after the store write.
        """
        async for events in stream.take_events(settings.batch_size, within=settings.flush_interval):
            for event in events:
                event.message.incref()
            await runtime.submit([_message(event) for event in events], partial(_ack, events))

    @app.task
    async def write_batches() -> None:
        await runtime.write_batches()

    attach(app, settings, runtime)

    @app.timer(interval=5.0)
    async def report_lag() -> None:
        """fwjr_consumer_lag: messages in assigned partitions not yet in the store."""
        raw = [tp for tp in app.consumer.assignment() if tp.topic == topics.RAW]
        TELEMETRY.lag.set(consumer_lag({(tp.topic, tp.partition): app.consumer.highwater(tp) for tp in raw}, runtime.committed))

    @app.on_partitions_assigned.connect
    async def resume(sender: faust.App, assigned: set, **kwargs: object) -> None:
        await runtime.recover(sorted(tp.partition for tp in assigned if tp.topic == topics.RAW))

    return app


def consumer_lag(highwaters: Mapping[tuple[str, int], int | None], committed: Mapping[tuple[str, int], int]) -> int:
    """Messages of the given partitions not yet in the store.

    A partition assigned a moment ago has no high watermark yet (the consumer has not fetched
    it): it counts from the next report, rather than crashing the timer and with it the worker.
    """
    return sum(max(high - committed.get(tp, -1) - 1, 0) for tp, high in highwaters.items() if high is not None)
