"""`fwjr alerter`: the alert rule as its own process, over every partition the workers publish.

It reads the merged job records on `fwjr.jobs` and the events on `service.status`, feeds the
pure engine (fwjr/alerting/rule.py) and acts on its decisions. The ingest workers neither
judge nor alert, so the alerts are the same whatever the number of workers and however
partitions move between them: every job record names its `fwjr.raw` partition (its source,
fwjr/topics.py), each source lands on one `fwjr.jobs` partition in the order it was
processed, and the engine's watermark is the minimum over all sources.

Exactly one alerter evaluates at a time:
- the lease is the one partition of `fwjr.alerter.state`, taken through the consumer group
  `fwjr-alerter`: the member it is assigned to is active, every other member is a standby
  that takes over when the active one leaves or stops heartbeating;
- the active one then opens its Kafka producer with the transactional id `fwjr-alerter`,
  which fences any older instance still running (its next transaction fails, and it goes
  back to standby), and aborts whatever transaction that instance left open.

Each checkpoint, in this order, in one Kafka transaction:
1. the decisions made since the last checkpoint, to `fwjr.alerts`;
2. the engine's state with the next offset of every input partition, to `fwjr.alerter.state`;
3. commit the transaction; only then
4. hand the decisions to the receivers (Alertmanager, webhooks, e-mail), and
5. report the offsets to the group `fwjr-alerter-input` (for lag; the checkpoint is authoritative).
A restart reads the last committed checkpoint and seeks to its offsets: the engine goes on
with the same baselines, incidents and watermark, and the input after the checkpoint is
judged again, deciding again what the aborted transaction held, and nothing else. So nothing
fires or resolves twice; a process killed between steps 3 and 4 re-posts the open alerts and
the recent resolves to Alertmanager when it starts (Alertmanager merges them by labels).
"""

from __future__ import annotations

import copy
import logging
import signal
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import msgspec
from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, KafkaError, KafkaException, TopicPartition
from prometheus_client import Counter, Gauge, start_http_server

from fwjr import topics
from fwjr.alerting import checkpoint
from fwjr.alerting.model import Alert, Decision, Outcome, alert_rule
from fwjr.alerting.poller import poll
from fwjr.alerting.receivers import Dispatcher, receivers_from_settings
from fwjr.alerting.rule import AlertEngine
from fwjr.alerting.status import MAINTENANCE, decode_status
from fwjr.config import Settings
from fwjr.kafka.producer import make_producer
from fwjr.kafka.status import publish_status
from fwjr.model import Rejection

log = logging.getLogger("fwjr.alerter")
_encode = msgspec.json.Encoder().encode
_STATE_KEY = b"engine"
_RECENT_RESOLVED = 20
_MAX_CHECKPOINT_BYTES = 16 * 1024 * 1024

ACTIVE = Gauge("fwjr_alerter_active", "1 while this alerter holds the lease and evaluates, 0 while it stands by")
DECISIONS = Counter("fwjr_alert_decisions_total", "Alerts fired and resolved", ["action"])
DELIVERIES = Counter("fwjr_alert_deliveries_total", "Alert deliveries by receiver and outcome", ["receiver", "ok"])
JUDGED = Counter("fwjr_alert_minutes_judged", "Event-time minutes the alert rule has judged")
JUDGED_UNTIL = Gauge("fwjr_alert_judged_until_timestamp_seconds", "Event time up to which the alert rule has judged every minute")
NEWEST = Gauge("fwjr_alerter_newest_event_timestamp_seconds", "Newest job event time the alerter has read")
JOB_RECORDS = Counter("fwjr_alerter_jobs", "Job records read by the alerter, by what the rule made of them", ["outcome"])
REJECTED = Counter("fwjr_alerter_rejected", "fwjr.jobs records that are no job record (dead-lettered)")
CHECKPOINTS = Counter("fwjr_alerter_checkpoints", "Checkpoints committed (state, offsets and decisions in one transaction)")


class Fenced(Exception):
    """A newer alerter took over (its transactional id fenced this one)."""


class _JobFields(msgspec.Struct):
    """The fields of a fwjr.jobs record the rule needs (the record holds the whole job)."""

    identity: str
    ts: int
    site: str
    workflow: str
    exit_code: int
    failed: bool


_decode_job = msgspec.json.Decoder(_JobFields).decode


def job_source(message: object) -> int:
    """The fwjr.raw partition a job record came from; a record without the header (from an older
    worker) is its fwjr.jobs partition's own source, numbered below zero."""
    for name, value in message.headers() or ():
        if name == topics.JOB_SOURCE_HEADER:
            try:
                return int(value)
            except (TypeError, ValueError):
                break
    return -1 - message.partition()


class _Lease:
    """Membership of the lease group: `held` while this process is assigned the state partition."""

    def __init__(self, settings: Settings) -> None:
        self.held = False
        self.consumer = Consumer({
            "bootstrap.servers": settings.bootstrap, "group.id": topics.ALERTER_LEASE_GROUP, "enable.auto.commit": False,
            "session.timeout.ms": 10000, "heartbeat.interval.ms": 1000, "auto.offset.reset": "latest",
            # a standby joining must not take the lease away from the active member for a rebalance
            "partition.assignment.strategy": "cooperative-sticky",
        })
        self.consumer.subscribe([topics.ALERTER_STATE], on_assign=self._assigned, on_revoke=self._revoked,
                                on_lost=self._revoked)

    def _assigned(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        consumer.incremental_assign(partitions)
        consumer.pause(partitions)  # the lease is the assignment; the checkpoints are read elsewhere
        self.held = self.held or bool(partitions)

    def _revoked(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if partitions:
            self.held = False
            consumer.incremental_unassign(partitions)

    def tick(self, timeout: float = 0.0) -> bool:
        """Serve the group (heartbeats, rebalances); whether the lease is held."""
        self.consumer.poll(timeout)
        return self.held

    def close(self) -> None:
        self.consumer.close()


def read_checkpoint(bootstrap: str, timeout: float = 30.0) -> checkpoint.Checkpoint | None:
    """The last committed checkpoint on the state topic, or None when there is none yet."""
    consumer = Consumer({
        "bootstrap.servers": bootstrap, "group.id": f"{topics.ALERTER_LEASE_GROUP}-reader", "enable.auto.commit": False,
        "isolation.level": "read_committed", "enable.partition.eof": True, "fetch.message.max.bytes": _MAX_CHECKPOINT_BYTES,
    })
    try:
        consumer.assign([TopicPartition(topics.ALERTER_STATE, 0, OFFSET_BEGINNING)])
        latest, deadline = None, time.monotonic() + timeout
        while True:
            message = consumer.poll(1.0)
            if message is None:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{topics.ALERTER_STATE}: not read to its end within {timeout:.0f} s")
                continue
            if message.error() is not None:
                if message.error().code() == KafkaError._PARTITION_EOF:
                    break
                raise KafkaException(message.error())
            if message.key() == _STATE_KEY:
                latest = message.value()
        return None if latest is None else checkpoint.decode(latest)
    finally:
        consumer.close()


class Alerter:
    """The active alerter's engine, input, checkpoints and receivers (one lease term)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.producer = make_producer(settings.bootstrap, "prompt", transactional_id=topics.ALERTER_TRANSACTIONAL_ID,
                                      message_max_bytes=_MAX_CHECKPOINT_BYTES + 65536, transaction_timeout_ms=60000)
        self.producer.init_transactions(60)  # fences an older alerter and aborts what it left open
        saved = read_checkpoint(settings.bootstrap)
        now = time.time()
        if saved is None:
            self.engine = AlertEngine(alert_rule(settings))
            self.offsets: dict[str, dict[int, int]] = {}
            self.resolved: list[Alert] = []
        else:
            self.engine = checkpoint.engine_from(saved.engine, alert_rule(settings), now)
            self.offsets = {topic: dict(parts) for topic, parts in saved.offsets.items()}
            self.resolved = list(saved.resolved)
        self.consumer = Consumer({
            "bootstrap.servers": settings.bootstrap, "group.id": topics.ALERTER_INPUT_GROUP, "enable.auto.commit": False,
            "isolation.level": "read_committed", "auto.offset.reset": "earliest",
        })
        self.consumer.assign(self._start_positions(saved is not None))
        self.engine.expect(range(self._partitions(topics.RAW)), now)
        self.dispatcher = Dispatcher(
            receivers_from_settings(settings), attempts=settings.alert_retry_attempts, backoff=settings.alert_retry_backoff,
            on_result=lambda name, ok: DELIVERIES.labels(receiver=name, ok=str(ok).lower()).inc(),
        )
        for name in self.dispatcher.delivered:  # each series exists from the start, so increase() sees the first failure
            for ok in ("true", "false"):
                DELIVERIES.labels(receiver=name, ok=ok)
        for incident in self.engine.incidents.values():
            if incident.alert is not None:
                self.dispatcher.restore(copy.deepcopy(incident.alert))
        for alert in self.resolved:
            self.dispatcher.restore_resolved(copy.deepcopy(alert))
        self.dead_letters = make_producer(settings.bootstrap, "prompt")
        self.pending: list[Decision] = []
        self.unsaved = False
        self.last_checkpoint = time.monotonic()
        self.judged_reported = self.engine.judged
        log.info("alerter active: %s; %d open incidents, judged up to %s",
                 "resumed from its checkpoint" if saved else "no checkpoint, starting fresh",
                 sum(1 for i in self.engine.incidents.values() if i.alert), self.engine.next_minute)

    def _partitions(self, topic: str) -> int:
        found = self.consumer.list_topics(topic, timeout=30).topics.get(topic)
        if found is None or found.error is not None or not found.partitions:
            raise RuntimeError(f"topic {topic!r} is missing on {self.settings.bootstrap}; create the topics first (fwjr up does)")
        return len(found.partitions)

    def _start_positions(self, resumed: bool) -> list[TopicPartition]:
        """The checkpoint's offsets; without one, status from its beginning and jobs from a
        baseline's span ago, so a first start learns from recent traffic instead of a week's."""
        rule = alert_rule(self.settings)
        span = (rule.window_minutes + rule.baseline_minutes) * 60 + rule.allowed_lateness
        since_ms = int((time.time() - span) * 1000)
        assigned = []
        for topic in (topics.SERVICE_STATUS, topics.JOBS):
            known = self.offsets.get(topic, {})
            fresh = [p for p in range(self._partitions(topic)) if p not in known]
            starts = {p: OFFSET_BEGINNING for p in fresh}
            if topic == topics.JOBS and fresh and not resumed:
                wanted = [TopicPartition(topic, p, since_ms) for p in fresh]
                starts = {tp.partition: tp.offset if tp.offset >= 0 else OFFSET_END
                          for tp in self.consumer.offsets_for_times(wanted, timeout=30)}
            assigned += [TopicPartition(topic, p, known.get(p, starts.get(p, OFFSET_BEGINNING))) for p in range(self._partitions(topic))]
        return assigned

    def step(self, timeout: float = 0.5) -> None:
        """Read what arrived, judge, and checkpoint at once when something was decided, else when the
        interval passed and the state moved (an idle alerter writes no checkpoints)."""
        messages = self.consumer.consume(2000, timeout=timeout)
        now = time.time()
        judged = self.engine.judged
        self.observe(messages, now)
        self.pending += self.engine.advance(now)
        self.unsaved = self.unsaved or bool(messages) or self.engine.judged != judged
        due = time.monotonic() - self.last_checkpoint >= self.settings.alerter_checkpoint_interval
        if self.pending or (self.unsaved and due):
            self.checkpoint()

    def observe(self, messages: Iterable, now: float) -> None:
        """Status events first (they are the suspected causes), then each source's jobs in order."""
        jobs: dict[int, list[Outcome]] = {}
        for message in messages:
            if message.error() is not None:
                log.warning("consumer: %s", message.error())
                continue
            topic = message.topic()
            self.offsets.setdefault(topic, {})[message.partition()] = message.offset() + 1
            if topic == topics.SERVICE_STATUS:
                self._status(message.value())
                continue
            try:
                job = _decode_job(message.value() or b"")
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                self._reject(message, exc)
                continue
            outcome = Outcome(job.ts, job.site, job.workflow, job.exit_code, job.failed, job.identity)
            jobs.setdefault(job_source(message), []).append(outcome)
        engine = self.engine
        late, duplicates = engine.late, engine.duplicates
        for source, outcomes in jobs.items():
            engine.observe(outcomes, source=source, now=now)
        JOB_RECORDS.labels(outcome="late").inc(engine.late - late)
        JOB_RECORDS.labels(outcome="duplicate").inc(engine.duplicates - duplicates)
        JOB_RECORDS.labels(outcome="read").inc(sum(map(len, jobs.values())))
        NEWEST.set(engine.newest)

    def _status(self, value: bytes | None) -> None:
        """A valid status event goes to the engine (maintenance also to the receivers that silence);
        an invalid one was dead-lettered and counted by the worker that stored the status history."""
        event = decode_status(value, topics.SERVICE_STATUS, int(time.time()))
        if isinstance(event, Rejection):
            log.info("status event skipped: %s", event.message())
            return
        self.engine.observe_status(event)
        if event.state == MAINTENANCE:
            self.dispatcher.maintenance(event)

    def _reject(self, message: object, exc: Exception) -> None:
        where = f"{message.topic()}/{message.partition()}@{message.offset()}"
        REJECTED.inc()
        log.error("%s is no job record: %s", where, exc)
        self.dead_letters.produce(topics.DLQ, value=message.value() or b"", key=message.key(), headers=Rejection(
            reason=f"not a job record: {exc}", field="", value="", source=where).dlq_headers())
        self.dead_letters.poll(0)

    def checkpoint(self) -> None:
        """Steps 1-5 of the module docstring. Raises Fenced when a newer alerter took over."""
        engine = self.engine
        for decision in self.pending:
            if decision.action == "resolve":
                self.resolved = (self.resolved + [decision.alert])[-_RECENT_RESOLVED:]
        saved = checkpoint.Checkpoint(engine=checkpoint.state_of(engine), offsets=self.offsets, resolved=self.resolved)
        try:
            self.producer.begin_transaction()
            for decision in self.pending:
                self.producer.produce(topics.ALERTS, key=decision.alert.id.encode(), value=_encode(decision))
            self.producer.produce(topics.ALERTER_STATE, key=_STATE_KEY, value=checkpoint.encode(saved))
            self.producer.commit_transaction(60)
        except KafkaException as exc:
            error = exc.args[0]
            if error.fatal() or error.code() == KafkaError._FENCED:
                raise Fenced(str(error)) from exc
            if error.txn_requires_abort():
                self.producer.abort_transaction(60)
            log.warning("checkpoint not committed, retrying with the next step: %s", error)
            return
        CHECKPOINTS.inc()
        self.unsaved = False
        for decision in self.pending:
            DECISIONS.labels(action=decision.action).inc()
            log.warning("alert %s %s: %s", decision.alert.id, decision.action, decision.alert.label())
            self.dispatcher.submit(decision)
        self.pending = []
        self.last_checkpoint = time.monotonic()
        JUDGED.inc(engine.judged - self.judged_reported)
        self.judged_reported = engine.judged
        if engine.next_minute is not None:
            JUDGED_UNTIL.set(engine.next_minute)
        reported = [TopicPartition(t, p, o) for t, parts in self.offsets.items() for p, o in parts.items()]
        if reported:
            self.consumer.commit(offsets=reported, asynchronous=True)

    def close(self) -> None:
        self.dispatcher.close()
        self.consumer.close()
        self.dead_letters.flush(10)


class _StatusPoller(threading.Thread):
    """Polls the configured status pages (FWJR_STATUS_ENDPOINTS) onto service.status, while active:
    one alerter polls, however many workers there are."""

    def __init__(self, settings: Settings, active: threading.Event) -> None:
        super().__init__(name="status-poller", daemon=True)
        self.settings = settings
        self.active = active
        self.producer = make_producer(settings.bootstrap, "prompt")

    def run(self) -> None:
        while True:
            self.active.wait()
            for spec in self.settings.status_endpoints:
                try:
                    publish_status(self.producer, poll(spec))
                except (RuntimeError, ValueError) as exc:
                    log.warning("status poll failed: %s", exc)
            time.sleep(self.settings.status_poll_interval)


def run_alerter(settings: Settings, stop: threading.Event, ready_file: Path | None = None) -> None:
    """Stand by until the lease is ours, evaluate while it is, and stand by again when it is lost."""
    if settings.alerter_metrics_port:
        start_http_server(settings.alerter_metrics_port, addr=settings.metrics_host)
    lease = _Lease(settings)
    active = threading.Event()
    if settings.status_endpoints:
        _StatusPoller(settings, active).start()
    ACTIVE.set(0)
    try:
        while not stop.is_set():
            if not lease.tick(0.5):
                continue
            alerter = Alerter(settings)
            active.set()
            ACTIVE.set(1)
            if ready_file is not None:
                ready_file.write_text(str(time.time()))
            try:
                while not stop.is_set() and lease.tick():
                    alerter.step()
                if stop.is_set():
                    alerter.checkpoint()  # what was decided goes out before the process ends
                else:
                    log.warning("the alerter lease was lost: standing by")
            except Fenced as exc:
                log.warning("a newer alerter took over (%s): standing by", exc)
            finally:
                active.clear()
                ACTIVE.set(0)
                alerter.close()
    finally:
        lease.close()


def serve(settings: Settings) -> None:
    """The `fwjr alerter` process: logs to stderr, stops cleanly on SIGTERM or SIGINT (after a
    last checkpoint), and marks FWJR_HOME/alerter.ready each time it becomes active."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    settings.home.mkdir(parents=True, exist_ok=True)
    run_alerter(settings, stop, settings.home / "alerter.ready")
