"""The alerter end to end: the local stack (real broker, worker, alerter) posting to a real
Alertmanager (Debian's package, the shipped routing) that notifies a real webhook server.

- A rehearsed burst during an outage reaches Alertmanager as one alert naming the outage,
  and resolves there, although the alerter is SIGKILLed in the middle of the incident and
  started again: one firing and one resolved notification, one fire and one resolve decision.
- The same burst during a planned maintenance of that service is silenced.
- A second alerter stands by while the first holds the lease, and takes over from its
  checkpoint when the first is SIGKILLed.

Each rehearsal is generated FWJRs with event times over 75 minutes (as `fwjr produce
--scenario` makes them), published in two parts so that the alerter can be stopped between.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer, ConsumerGroupState, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient

from fwjr import topics
from fwjr.alerting.model import RuleConfig
from fwjr.alerting.rule import AlertEngine
from fwjr.alerting.simulate import generated_outcomes
from fwjr.devstack.broker import find_executable, free_port
from fwjr.devstack.processes import alive
from fwjr.kafka.producer import make_producer
from fwjr.kafka.publish import messages_from_generator, publish, wait_drained
from fwjr.kafka.status import publish_status, scenario_status_docs, wait_consumed
from fwjr.reader import decode_message, to_job
from tests.fixtures.alerting_infra import Alertmanager, run_alertmanager
from tests.fixtures.live import FWJR, Stack, stack_env
from tests.fixtures.topic_reading import wait_alerter_caught_up
from tests.fixtures.waiting import wait_until

pytestmark = [pytest.mark.kafka, pytest.mark.real_clock]  # Alertmanager keeps real time

SITE = "T1_US_FNAL_Disk"
COUNT, SEED, MINUTES = 5000, 5, 75
BURST = {"site": SITE, "start_minute": 35, "minutes": 8, "failure_rate": 0.6, "exit_code": 8021}
OUTAGE = {"service": "EOS", "start_minute": 33, "minutes": 12, "state": "down"}
SCENARIO = {"bursts": [BURST], "outages": [OUTAGE]}


@pytest.fixture(scope="module")
def oncall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Alertmanager]]:
    if find_executable("java") is None:
        pytest.skip("java is not installed: the live stack needs Java 17+")
    with run_alertmanager(tmp_path_factory.mktemp("alertmanager")) as alertmanager:
        home = tmp_path_factory.mktemp("fwjr-alerter")
        env = stack_env(home, FWJR_ALERTMANAGER_URLS=json.dumps([alertmanager.url]), FWJR_ALERT_PENDING_MINUTES="3",
                        FWJR_BOARD_URL="https://fwjr.example.org")
        running = Stack(home, env)
        running.fwjr("up", "--detach", "--feed-rate", "0", timeout=300)
        try:
            yield running, alertmanager
        finally:
            running.fwjr("down", check=False, timeout=120)


def _bootstrap(stack: Stack) -> str:
    return f"127.0.0.1:{stack.env['FWJR_KAFKA_PORT']}"


def _alerter_pid(stack: Stack) -> int | None:
    try:
        pid = int((stack.home / "alerter.pid").read_text())
    except (FileNotFoundError, ValueError):
        return None
    return pid if alive(pid) else None


def _alerter_log(stack: Stack) -> str:
    path = stack.home / "logs" / "alerter.log"
    return path.read_text(errors="replace") if path.exists() else ""


def _rehearsal(start_ts: int, seed: int = SEED) -> list[tuple[int, tuple[bytes | None, bytes, str]]]:
    """(event time, message) of the rehearsal's FWJRs in the order they are produced; a message the
    worker will dead-letter gets the time of the message before it. A seed makes its own FWJR
    identities (the same seed twice is the same FWJRs, counted once)."""
    found, last = [], start_ts
    for key, value, content_type in messages_from_generator(COUNT, seed, "json", MINUTES, start_ts, SCENARIO):
        job = to_job("test", decode_message(value, content_type, "test"))
        last = getattr(job, "ts", last)
        found.append((last, (key, value, content_type)))
    return found


def _decisions(stack: Stack) -> list[dict]:
    """Every committed decision on fwjr.alerts, oldest first."""
    consumer = Consumer({"bootstrap.servers": _bootstrap(stack), "group.id": f"t-{uuid.uuid4().hex}",
                         "isolation.level": "read_committed", "enable.partition.eof": True, "enable.auto.commit": False})
    consumer.assign([TopicPartition("fwjr.alerts", 0, 0)])
    found, deadline = [], time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is None:
                continue
            if message.error() is not None:
                if message.error().code() == KafkaError._PARTITION_EOF:
                    return found
                continue
            found.append(json.loads(message.value()))
    finally:
        consumer.close()
    raise AssertionError("fwjr.alerts not read to its end within 30 s")


def _held(alertmanager: Alertmanager) -> list[dict]:
    return [a for a in alertmanager.alerts() if a["labels"].get("site") == SITE]


def _notified(alertmanager: Alertmanager, status: str) -> list[dict]:
    """Webhook notifications with `status` that hold an alert for SITE."""
    return [b for b in alertmanager.webhook.bodies if b["status"] == status and any(
        a["labels"].get("site") == SITE for a in b["alerts"])]


def _reference(start_ts: int) -> list[tuple]:
    """What the pure engine decides on the same FWJRs, fed per fwjr.raw partition."""
    engine, decisions = AlertEngine(RuleConfig(pending_minutes=3)), []
    outcomes = generated_outcomes(COUNT, SEED, start_ts, MINUTES, SCENARIO)
    for i in range(0, len(outcomes), 500):
        chunk = outcomes[i : i + 500]
        for partition in sorted({p for p, _ in chunk}):
            engine.observe([o for p, o in chunk if p == partition], source=partition)
        decisions += engine.advance()
    return [(d.action, d.alert.id, d.alert.fired, d.alert.resolved) for d in decisions]


def _publish_outages(stack: Stack, start_ts: int, extra: list[dict] = ()) -> None:
    publish_status(make_producer(_bootstrap(stack)), [*scenario_status_docs(SCENARIO, start_ts), *extra])
    assert wait_consumed(_bootstrap(stack), 60), "the worker and the alerter read the status events"


def test_one_alert_in_alertmanager_naming_the_outage_resolved_once_across_a_sigkill(oncall: tuple[Stack, Alertmanager]) -> None:
    stack, alertmanager = oncall
    start_ts = int(time.time()) - 3 * MINUTES * 60  # the next tests' rehearsals come after this one's
    _publish_outages(stack, start_ts)
    messages = _rehearsal(start_ts)
    cut = next(i for i, (ts, _) in enumerate(messages) if ts >= start_ts + 47 * 60)
    producer = make_producer(_bootstrap(stack))
    publish(producer, [m for _, m in messages[:cut]])
    wait_until(lambda: _held(alertmanager), 120, "Alertmanager to hold the site's alert")
    assert _notified(alertmanager, "resolved") == [], "killed while the incident is open"

    pid = _alerter_pid(stack)
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not alive(pid), 30, "the alerter to die")
    publish(producer, [m for _, m in messages[cut:]])
    wait_drained(_bootstrap(stack), timeout=300)
    stack.fwjr("up", "--detach", "--feed-rate", "0", timeout=300)  # starts the missing alerter
    assert _alerter_pid(stack) not in (None, pid)

    wait_until(lambda: _notified(alertmanager, "resolved"), 180, "the resolved notification")
    wait_alerter_caught_up(_bootstrap(stack))
    wait_until(alertmanager.flushed, 90, "Alertmanager to flush and drop the resolved alert's group")
    (fired,) = _notified(alertmanager, "firing")
    (resolved,) = _notified(alertmanager, "resolved")
    (alert,) = [a for a in fired["alerts"] if a["labels"].get("site") == SITE]
    assert alert["labels"] == {"alertname": "FWJRErrorRateSpike", "scope": "site", "site": SITE,
                               "severity": "page", "service": "EOS"}
    assert alert["annotations"]["suspected_cause"].startswith("EOS down from ")
    assert "suspected cause: EOS down" in alert["annotations"]["summary"]
    assert alert["annotations"]["board_url"].startswith("https://fwjr.example.org/explorer?site=T1_US_FNAL_Disk")
    assert [a["annotations"]["alert_id"] for a in resolved["alerts"]] == [alert["annotations"]["alert_id"]]

    decisions = [(d["action"], d["alert"]["id"], d["alert"]["fired"], d["alert"]["resolved"]) for d in _decisions(stack)]
    assert decisions == _reference(start_ts), "one fire and one resolve, at the uninterrupted engine's times"
    assert _alerter_log(stack).rsplit("alerter active", 1)[1].startswith(": resumed from its checkpoint; 1 open incidents")
    listed = stack.jsonl("alerts", "--format", "jsonl", "--hours", "4")
    assert [(a["id"], a["state"]) for a in listed] == [(alert["annotations"]["alert_id"], "resolved")]


def test_the_same_burst_during_a_planned_maintenance_of_the_service_is_silenced(oncall: tuple[Stack, Alertmanager]) -> None:
    stack, alertmanager = oncall
    before = {a["annotations"]["alert_id"] for body in alertmanager.webhook.bodies for a in body["alerts"]}
    now = int(time.time())
    start_ts = now - 2 * MINUTES * 60
    maintenance = {"service": "EOS", "state": "maintenance", "ts": now - 120, "start": now - 120, "end": now + 3600,
                   "message": "namespace upgrade", "source": "downtime calendar"}
    _publish_outages(stack, start_ts, [maintenance])
    wait_until(lambda: [s for s in alertmanager.silences() if s["status"]["state"] == "active"], 60, "the maintenance silence")
    (silence,) = [s for s in alertmanager.silences() if s["status"]["state"] == "active"]
    messages = _rehearsal(start_ts, seed=SEED + 1)  # other FWJRs than the first test's
    cut = next(i for i, (ts, _) in enumerate(messages) if ts >= start_ts + 47 * 60)
    producer = make_producer(_bootstrap(stack))
    publish(producer, [m for _, m in messages[:cut]])  # the alert fires and stays open

    def new_alerts() -> list[dict]:
        return [a for a in _held(alertmanager) if a["annotations"]["alert_id"] not in before]

    wait_until(lambda: [a for a in new_alerts() if a["status"]["state"] != "unprocessed"], 120,
               "Alertmanager to hold and process the new alert")
    wait_until(lambda: new_alerts()[0]["status"]["state"] == "suppressed", 10, f"the alert to be silenced: {new_alerts()}")
    (held,) = new_alerts()
    assert held["status"]["silencedBy"] == [silence["id"]]
    assert held["labels"]["service"] == "EOS"
    publish(producer, [m for _, m in messages[cut:]])  # and resolves
    wait_drained(_bootstrap(stack), timeout=300)
    wait_until(lambda: not new_alerts(), 120, "the silenced alert to resolve")
    wait_alerter_caught_up(_bootstrap(stack))
    wait_until(alertmanager.flushed, 90, "Alertmanager to flush and drop the silenced alert's group")
    notified = {a["annotations"]["alert_id"] for body in alertmanager.webhook.bodies for a in body["alerts"]}
    assert notified == before, "the silenced alert was not notified, neither firing nor resolved"
    actions = [d["action"] for d in _decisions(stack) if d["alert"]["id"] == held["annotations"]["alert_id"]]
    assert actions == ["fire", "resolve"], "the alerter decided both; Alertmanager kept them quiet"


def test_a_standby_alerter_takes_over_from_its_checkpoint_when_the_active_one_dies(oncall: tuple[Stack, Alertmanager]) -> None:
    stack, _ = oncall
    start_ts = int(time.time()) - MINUTES * 60
    _publish_outages(stack, start_ts)  # something for the active alerter to checkpoint
    metrics_port = free_port()
    env = {**stack.env, "FWJR_ALERTER_METRICS_PORT": str(metrics_port)}
    log = stack.home / "logs" / "standby.log"
    with log.open("ab") as out:
        standby = subprocess.Popen([*FWJR, "alerter"], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: _active_gauge(metrics_port) == 0.0, 60, "the second alerter to stand by")
        wait_until(lambda: _lease_members(stack) == [1, 0], 60, "the lease group to settle with both alerters")
        assert _active_gauge(metrics_port) == 0.0 and "alerter active" not in log.read_text()

        os.kill(_alerter_pid(stack), signal.SIGKILL)
        wait_until(lambda: _active_gauge(metrics_port) == 1.0, 90, "the standby to take the lease")
        assert log.read_text().rsplit("alerter active", 1)[1].startswith(": resumed from its checkpoint")
        decided = len(_decisions(stack))
        publish(make_producer(_bootstrap(stack)), [m for _, m in _rehearsal(start_ts, seed=SEED + 2)])
        wait_drained(_bootstrap(stack), timeout=300)
        wait_until(lambda: len(_decisions(stack)) >= decided + 2, 120, "the new active alerter's decisions")
        assert [d["action"] for d in _decisions(stack)[decided:]] == ["fire", "resolve"]
    finally:
        standby.terminate()
        standby.wait(60)


def _lease_members(stack: Stack) -> list[int] | None:
    """Partitions held by each member of the lease group, most first, once the group is stable
    (its rebalance done); None while it rebalances."""
    admin = AdminClient({"bootstrap.servers": _bootstrap(stack)})
    (described,) = admin.describe_consumer_groups([topics.ALERTER_LEASE_GROUP]).values()
    group = described.result(timeout=10)
    if group.state != ConsumerGroupState.STABLE:
        return None
    return sorted((len(m.assignment.topic_partitions) for m in group.members), reverse=True)


def _active_gauge(port: int) -> float | None:
    """fwjr_alerter_active of the alerter whose metrics listen on `port`; None while it does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("fwjr_alerter_active "):
            return float(line.split()[1])
    return None
