"""The alert engine inside the worker: status events in, decisions out to Kafka, the store and receivers.

Wiring only: the rule is the pure engine in fwjr/alerting/rule.py. The worker's runtime
calls `observe_batch` with every batch it has made durable (so alerts are judged on
exactly the jobs the store holds, in per-partition order), an agent on `service.status`
feeds status events, and a timer polls configured status pages. Decisions go to
`fwjr.alerts`, to the `alerts` table and to the receivers, whose background threads
never hold up the stream; maintenance announcements go to the receivers that silence.

Alerting assumes the service.status topic and every fwjr.raw partition reach the same
worker (the local default runs one worker); docs/alerting.md says what changes with more.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import threading
import time

import faust
import msgspec
from confluent_kafka import Producer
from prometheus_client import Counter

from fwjr import query
from fwjr.alerting.poller import poll
from fwjr.alerting.publish import publish_status
from fwjr.alerting.receivers import Dispatcher, receivers_from_settings
from fwjr.alerting.rule import Alert, AlertEngine, Decision, Outcome
from fwjr.alerting.status import MAINTENANCE, Outage, StatusEvent, decode_status
from fwjr.bucket import bucket_start
from fwjr.config import Settings
from fwjr.model import Rejection
from fwjr.store import Store
from streams import topics
from streams.runtime import Runtime
from streams.telemetry import TELEMETRY

log = logging.getLogger("fwjr.alerts")
_encode = msgspec.json.Encoder().encode
_HISTORY_SECONDS = 7 * 86400

STATUS_EVENTS = Counter("fwjr_status_events_total", "Service status events accepted")
STATUS_REJECTED = Counter("fwjr_status_rejected_total", "Service status events rejected", ["reason"])
ALERT_DECISIONS = Counter("fwjr_alert_decisions_total", "Alerts fired and resolved", ["action"])
RECEIVER_RESULTS = Counter("fwjr_alert_deliveries_total", "Alert deliveries by receiver and outcome", ["receiver", "ok"])


def _reason(rejection: Rejection) -> str:
    return rejection.reason.split("(", 1)[0].strip()


class AlertService:
    """Owns the engine of one worker; thread-safe (the raw and status agents both call it)."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.store = store
        self.engine = AlertEngine(settings.alert_rule())
        self.producer = Producer({"bootstrap.servers": settings.bootstrap, "enable.idempotence": True, "linger.ms": 5})
        receivers = receivers_from_settings(settings)
        for receiver in receivers:  # each series exists from the start, so increase() sees the first failure
            for ok in ("true", "false"):
                RECEIVER_RESULTS.labels(receiver=receiver.name, ok=ok)
        self.dispatcher = Dispatcher(
            receivers,
            attempts=settings.alert_retry_attempts,
            backoff=settings.alert_retry_backoff,
            on_result=lambda name, ok: RECEIVER_RESULTS.labels(receiver=name, ok=str(ok).lower()).inc(),
        )
        self._lock = threading.Lock()

    def recover(self) -> None:
        """Reload the last week of status events and the alerts still firing, as a restart found them."""
        now = int(time.time())
        for row in query.service_events(self.store, now - _HISTORY_SECONDS, now + 3600):
            self.engine.observe_status(StatusEvent(**row))
        for row in query.alert_history(self.store, now):
            if row["resolved"] is None:
                alert = Alert(**{**row, "evidence": msgspec.json.decode(row["evidence"]), "members": list(row["members"])})
                self.engine.restore(alert)
                self.dispatcher.restore(copy.deepcopy(alert))

    def observe_batch(self, outcomes: list[tuple[int, list[Outcome]]]) -> None:
        """Feed a durable batch's jobs, per source partition, to the engine and act on what it decides."""
        with self._lock:
            for partition, jobs in outcomes:
                self.engine.observe(jobs, source=partition)
            judged = self.engine.judged
            decisions = self.engine.advance()
            TELEMETRY.alert_minutes_judged.inc(self.engine.judged - judged)
            if self.engine.next_minute is not None:
                TELEMETRY.alert_judged_until.set(self.engine.next_minute)
        for decision in decisions:
            self.emit(decision)

    def handle_status(self, values: list[bytes | None]) -> None:
        """Validate status messages; store the good ones and their outage windows, count the bad ones."""
        now = int(time.time())
        events, rejects, changed = [], {}, []
        for value in values:
            parsed = decode_status(value, topics.SERVICE_STATUS, now)
            if isinstance(parsed, Rejection):
                reason = _reason(parsed)
                STATUS_REJECTED.labels(reason=reason).inc()
                rejects[reason] = rejects.get(reason, 0) + 1
                log.warning("rejected status event: %s", parsed.message())
                self.producer.produce(topics.DLQ, value=value or b"", headers=[("reason", parsed.reason.encode()),
                                      ("field", parsed.field.encode()), ("source", parsed.source.encode())])
                continue
            STATUS_EVENTS.inc()
            events.append(parsed)
            if parsed.state == MAINTENANCE:
                self.dispatcher.maintenance(parsed)
            with self._lock:
                self.engine.observe_status(parsed)
                version = len(self.engine.outages.events[parsed.service])
                changed.extend((outage, version) for outage in self.engine.outages.windows(parsed.service))
        try:
            self._store_status(now, events, changed, rejects)
        except Exception as exc:  # the engine has the events; only their history rows are lost
            log.error("storing %d status events failed: %s", len(events), exc)
        self.producer.poll(0)

    def _store_status(self, now: int, events: list[StatusEvent], changed: list, rejects: dict[str, int]) -> None:
        if events:
            query.insert_service_events(self.store, [[e.service, e.ts, e.state, e.message, e.source] for e in events])
        if changed:
            query.insert_outages(self.store, [_outage_row(o, v) for o, v in changed])
        if rejects:
            bucket = bucket_start(now, "minute")
            query.insert_status_rejects(self.store, [[bucket, reason, count] for reason, count in rejects.items()])

    def emit(self, decision: Decision) -> None:
        """One decision to the store (history), to fwjr.alerts, and to the receivers."""
        alert = decision.alert
        ALERT_DECISIONS.labels(action=decision.action).inc()
        log.warning("alert %s %s: %s", alert.id, decision.action, alert.label())
        try:
            query.insert_alerts(self.store, [alert_row(decision)])
        except Exception as exc:  # the history row is lost, but the alert still goes out
            log.error("alert %s: storing the %s failed: %s", alert.id, decision.action, exc)
        self.producer.produce(topics.ALERTS, key=alert.id.encode(), value=_encode({"action": decision.action, "alert": alert}))
        self.producer.poll(0)
        self.dispatcher.submit(decision)

    def poll_endpoints(self, specs: list[dict]) -> None:
        """Publish what the configured status pages say (validated later, by the status agent)."""
        for spec in specs:
            try:
                publish_status(self.producer, poll(spec))
            except (RuntimeError, ValueError) as exc:
                log.warning("status poll failed: %s", exc)

    def close(self) -> None:
        self.producer.flush(10)
        self.dispatcher.close()


def _outage_row(outage: Outage, version: int) -> list:
    return [outage.service, outage.start, outage.end or 0, outage.state, outage.message, outage.source, version]


def alert_row(decision: Decision) -> list:
    """An `alerts` table row; the resolve row outranks the fire row."""
    alert = decision.alert
    return [
        alert.id, alert.scope, alert.value, alert.state, alert.started, alert.fired, alert.resolved or 0,
        _encode(alert.evidence).decode(), list(alert.members), 2 if decision.action == "resolve" else 1,
    ]


def attach(app: faust.App, settings: Settings, runtime: Runtime) -> AlertService:
    """Wire alerting into the worker's Faust app: the flush observer, the status agent, the poller timer."""
    service = AlertService(settings, runtime.store)
    service.recover()
    runtime.observers.append(service.observe_batch)
    status_topic = app.topic(
        topics.SERVICE_STATUS, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )

    @app.agent(status_topic)
    async def service_status(stream: faust.StreamT) -> None:
        """Status events in small batches; the store write happens off the event loop."""
        async for values in stream.take(100, within=0.5):
            await asyncio.to_thread(service.handle_status, list(values))

    if settings.status_endpoints:

        @app.timer(settings.status_poll_interval)
        async def poll_status() -> None:
            await asyncio.to_thread(service.poll_endpoints, list(settings.status_endpoints))

    @app.on_before_shutdown.connect
    def stop_alerting(sender: faust.App, **kwargs: object) -> None:
        service.close()

    return service
