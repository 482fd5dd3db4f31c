"""The worker's side of alerting: service status and the alerter's decisions into the store.

The alert rule runs in its own process (streams/alerter.py, `fwjr alerter`). The workers keep
what needs the store, which in the local default only the worker may open:
- status events on `service.status`, validated once: the good ones, the outage windows they
  change and the maintenance windows they announce go to `service_events`, `outages` and
  `maintenance`; the bad ones are counted
  (`fwjr_status_rejected_total`), recorded in `status_rejects` and dead-lettered with the
  reason;
- the alerter's decisions on `fwjr.alerts`, read with `isolation.level=read_committed` so
  only decisions the alerter committed (with its checkpoint) reach the `alerts` table, one
  row per state change (rows are idempotent: a decision stored twice is one state).
With several workers, Faust spreads the status partitions over them and the alert-history
consumer group gives `fwjr.alerts` to one of them, so each event and decision is stored once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import faust
import msgspec
from confluent_kafka import Consumer
from prometheus_client import Counter

from fwjr import topics
from fwjr.alerting.model import Decision
from fwjr.alerting.status import MAINTENANCE, Outage, OutageBook, StatusEvent, decode_status
from fwjr.bucket import bucket_start
from fwjr.config import Settings
from fwjr.kafka.producer import make_producer
from fwjr.model import Rejection
from fwjr.store import alerts as store_alerts
from fwjr.store.connection import Store
from streams.writer import Runtime

log = logging.getLogger("fwjr.alerts")
_encode = msgspec.json.Encoder().encode
_decode_decision = msgspec.json.Decoder(Decision).decode
_HISTORY_SECONDS = 7 * 86400
ALERT_HISTORY_GROUP = "fwjr-alert-history"

STATUS_EVENTS = Counter("fwjr_status_events_total", "Service status events accepted")
STATUS_REJECTED = Counter("fwjr_status_rejected_total", "Service status events rejected", ["reason"])
ALERTS_STORED = Counter("fwjr_alert_history_rows_total", "Alert decisions from fwjr.alerts written to the store")
ALERTS_UNREADABLE = Counter("fwjr_alert_history_unreadable_total", "fwjr.alerts messages that are no decision (dead-lettered)")


class StatusHistory:
    """Validates status events and keeps their history and outage windows in the store."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.store = store
        self.outages = OutageBook()
        self.producer = make_producer(settings.bootstrap, "prompt")
        self._lock = threading.Lock()

    def recover(self) -> None:
        """Reload the last week of status events, so outage windows continue where they were."""
        now = int(time.time())
        for row in store_alerts.service_events(self.store, now - _HISTORY_SECONDS, now + 3600):
            self.outages.add(StatusEvent(**row))

    def handle_status(self, values: list[bytes | None]) -> None:
        """Validate status messages; store the good ones and their outage windows, count the bad ones."""
        now = int(time.time())
        events, rejects, changed = [], {}, []
        for value in values:
            parsed = decode_status(value, topics.SERVICE_STATUS, now)
            if isinstance(parsed, Rejection):
                reason = parsed.label()
                STATUS_REJECTED.labels(reason=reason).inc()
                rejects[reason] = rejects.get(reason, 0) + 1
                log.warning("rejected status event: %s", parsed.message())
                self.producer.produce(topics.DLQ, value=value or b"", headers=parsed.dlq_headers())
                continue
            STATUS_EVENTS.inc()
            events.append(parsed)
            with self._lock:
                self.outages.add(parsed)
                version = len(self.outages.events[parsed.service])
                changed.extend((outage, version) for outage in self.outages.windows(parsed.service))
        try:
            self._store_status(now, events, changed, rejects)
        except Exception as exc:  # the events stay on service.status; only their history rows are lost
            log.error("storing %d status events failed: %s", len(events), exc)
        self.producer.poll(0)

    def _store_status(self, now: int, events: list[StatusEvent], changed: list, rejects: dict[str, int]) -> None:
        if events:
            store_alerts.insert_service_events(self.store, [[e.service, e.ts, e.state, e.message, e.source] for e in events])
        if changed:
            store_alerts.insert_outages(self.store, [_outage_row(o, v) for o, v in changed])
        planned = [[e.service, e.start, e.end, e.message, e.source, e.ts] for e in events if e.state == MAINTENANCE]
        if planned:
            store_alerts.insert_maintenance(self.store, planned)
        if rejects:
            bucket = bucket_start(now, "minute")
            store_alerts.insert_status_rejects(self.store, [[bucket, reason, count] for reason, count in rejects.items()])

    def close(self) -> None:
        self.producer.flush(10)


class AlertHistory:
    """Writes the alerter's committed decisions to the `alerts` table, from its own thread.

    Offsets are committed after the rows are in the store (a crash in between stores a
    decision twice, which is the same state). A message that is no decision is dead-lettered
    with the reason and counted, never retried forever.
    """

    def __init__(self, settings: Settings, store: Store) -> None:
        self.store = store
        self.consumer = Consumer({
            "bootstrap.servers": settings.bootstrap, "group.id": ALERT_HISTORY_GROUP, "isolation.level": "read_committed",
            "enable.auto.commit": False, "auto.offset.reset": "earliest", "session.timeout.ms": 10000,
        })
        self.producer = make_producer(settings.bootstrap, "prompt")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alert-history", daemon=True)

    def start(self) -> None:
        self.consumer.subscribe([topics.ALERTS])
        self._thread.start()

    def store_messages(self, messages: list) -> None:
        """One batch of fwjr.alerts messages into the store (retried until it is there)."""
        rows = []
        for message in messages:
            try:
                rows.append(alert_row(_decode_decision(message.value() or b"")))
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                ALERTS_UNREADABLE.inc()
                where = f"{message.topic()}/{message.partition()}@{message.offset()}"
                log.error("%s is no alert decision: %s", where, exc)
                self.producer.produce(topics.DLQ, value=message.value() or b"", key=message.key(), headers=Rejection(
                    reason=f"not an alert decision: {exc}", field="", value="", source=where).dlq_headers())
        while rows and not self._stop.is_set():
            try:
                store_alerts.insert_alerts(self.store, rows)
                ALERTS_STORED.inc(len(rows))
                return
            except Exception as exc:  # the store is down: keep the offsets, try again
                log.error("storing %d alert decisions failed, retrying in 2 s: %s", len(rows), exc)
                self._stop.wait(2.0)

    def _run(self) -> None:
        while not self._stop.is_set():
            messages = [m for m in self.consumer.consume(500, timeout=0.5) if m.error() is None]
            if not messages:
                continue
            self.store_messages(messages)
            self.producer.poll(0)
            if not self._stop.is_set():
                self.consumer.commit(asynchronous=False)

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)
        self.consumer.close()
        self.producer.flush(10)


def _outage_row(outage: Outage, version: int) -> list:
    return [outage.service, outage.start, outage.end or 0, outage.state, outage.message, outage.source, version]


def alert_row(decision: Decision) -> list:
    """An `alerts` table row; the resolve row outranks the fire row."""
    alert = decision.alert
    return [
        alert.id, alert.scope, alert.value, alert.state, alert.started, alert.fired, alert.resolved or 0,
        _encode(alert.evidence).decode(), list(alert.members), 2 if decision.action == "resolve" else 1,
    ]


def attach(app: faust.App, settings: Settings, runtime: Runtime) -> StatusHistory:
    """Wire the history writers into the worker: the status agent and the alert-history thread."""
    status = StatusHistory(settings, runtime.store)
    status.recover()
    history = AlertHistory(settings, runtime.store)
    status_topic = app.topic(
        topics.SERVICE_STATUS, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )

    @app.agent(status_topic)
    async def service_status(stream: faust.StreamT) -> None:
        """Status events in small batches; the store write happens off the event loop."""
        async for values in stream.take(100, within=0.5):
            await asyncio.to_thread(status.handle_status, list(values))

    @app.task
    async def start_alert_history() -> None:
        history.start()

    @app.on_before_shutdown.connect
    def stop_history(sender: faust.App, **kwargs: object) -> None:
        history.close()
        status.close()

    return status
