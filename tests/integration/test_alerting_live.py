"""Alerting end to end: a rehearsed incident through the real broker, worker, store and receivers.

Generated traffic with a failure burst at one site and an overlapping outage of one service
(plus an unrelated earlier outage) is produced with `fwjr produce --scenario`; the worker
must raise exactly one alert, for that site, within the pending period, naming the overlapping
outage, deliver it to a real webhook and a real SMTP server, and resolve it after the burst.
Bad status events are rejected with a reason and counted.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer

from fwjr.alerting.model import RuleConfig
from fwjr.alerting.rule import AlertEngine
from fwjr.alerting.simulate import generated_outcomes
from fwjr.bucket import iso, parse_iso
from fwjr.devstack.broker import find_executable
from tests.fixtures.alert_receivers import Mailbox, Webhook, serve_mailbox, serve_webhook
from tests.fixtures.live import Stack, stack_env
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.kafka

SITE = "T1_US_FNAL_Disk"
PENDING = 3
BURST = {"site": SITE, "start_minute": 35, "minutes": 8, "failure_rate": 0.6, "exit_code": 8021}
OUTAGE = {"service": "EOS", "start_minute": 33, "minutes": 12, "state": "down"}
UNRELATED = {"service": "FTS", "start_minute": 5, "minutes": 4, "state": "degraded"}


@pytest.fixture(scope="module")
def receivers() -> Iterator[tuple[Webhook, Mailbox]]:
    with serve_webhook() as hook, serve_mailbox() as box:
        hook.fail_first = 1  # the first delivery is refused: the receiver must retry
        yield hook, box


@pytest.fixture(scope="module")
def alert_stack(tmp_path_factory: pytest.TempPathFactory, receivers: tuple[Webhook, Mailbox]) -> Iterator[Stack]:
    if find_executable("java") is None:
        pytest.skip("java is not installed: the live stack needs Java 17+")
    hook, box = receivers
    home = tmp_path_factory.mktemp("fwjr-alerts")
    env = stack_env(
        home,
        FWJR_ALERT_PENDING_MINUTES=str(PENDING),
        FWJR_ALERT_WEBHOOK_URLS=json.dumps([hook.url]),
        FWJR_ALERT_SMTP_HOST=box.host,
        FWJR_ALERT_SMTP_PORT=str(box.port),
        FWJR_ALERT_EMAIL_TO=json.dumps(["oncall@example.org"]),
        FWJR_ALERT_RETRY_BACKOFF="0.2",
    )
    running = Stack(home, env)
    running.fwjr("up", "--detach", "--feed-rate", "0", timeout=300)
    try:
        yield running
    finally:
        running.fwjr("down", check=False, timeout=120)


def _wait_for(condition, timeout: float, what: str) -> None:
    wait_until(condition, timeout, what, poll=0.3)


def _bootstrap(stack: Stack) -> str:
    return f"127.0.0.1:{stack.env['FWJR_KAFKA_PORT']}"


def test_rehearsed_burst_fires_one_alert_naming_the_outage(alert_stack: Stack, receivers: tuple[Webhook, Mailbox], tmp_path: Path) -> None:
    hook, box = receivers
    scenario = tmp_path / "incident.yaml"
    scenario.write_text(json.dumps({"bursts": [BURST], "outages": [OUTAGE, UNRELATED]}))

    alert_stack.fwjr("produce", "--generate", "5000", "--seed", "5", "--minutes", "75", "--scenario", str(scenario), "--wait")

    _wait_for(lambda: len(hook.bodies) >= 2 and len(box.messages) >= 2, 60, "fire and resolve at both receivers")
    listed = alert_stack.fwjr("outages")
    outages = {o["service"]: o for o in map(json.loads, listed.stdout.splitlines())}
    assert set(outages) == {"EOS", "FTS"}, listed.stderr.decode()[-2000:]
    first_fwjr = outages["EOS"]["start"] - OUTAGE["start_minute"] * 60
    assert outages["EOS"]["end"] - outages["EOS"]["start"] == OUTAGE["minutes"] * 60

    alerts = alert_stack.jsonl("alerts", "--format", "jsonl")
    assert len(alerts) == 1, alerts
    alert = alerts[0]
    assert (alert["scope"], alert["value"], alert["state"]) == ("site", SITE, "resolved")
    burst_start = first_fwjr + BURST["start_minute"] * 60
    burst_end = burst_start + BURST["minutes"] * 60
    assert burst_start <= alert["started"] <= burst_start + 120
    assert alert["fired"] - alert["started"] == PENDING * 60
    assert alert["resolved"] > burst_end
    causes = [c["service"] for c in alert["evidence"]["suspected_causes"]]
    assert causes == ["EOS"]
    assert alert["evidence"]["top_exit_codes"][0]["exit_code"] == 8021
    assert alert["evidence"]["top_exit_codes"][0]["procedure"] is not None

    assert [b["status"] for b in hook.bodies[:2]] == ["firing", "resolved"]
    assert hook.bodies[0]["alerts"][0]["endsAt"] == "0001-01-01T00:00:00Z"
    assert hook.refused == 1
    for body in hook.bodies[:2]:
        assert body["version"] == "4"
        assert body["alerts"][0]["labels"]["value"] == SITE
        assert "EOS down" in body["alerts"][0]["annotations"]["summary"]
    rehearsal = generated_outcomes(5000, 5, first_fwjr, 75, {"bursts": [BURST]})
    engine, decisions = AlertEngine(RuleConfig(pending_minutes=PENDING)), []
    for i in range(0, len(rehearsal), 500):
        chunk = rehearsal[i : i + 500]
        for partition in sorted({p for p, _ in chunk}):
            engine.observe([o for p, o in chunk if p == partition], source=partition)
        decisions += [(d.action, d.alert.started, d.alert.fired, d.alert.resolved) for d in engine.advance()]
    assert decisions == [
        ("fire", alert["started"], alert["fired"], None),
        ("resolve", alert["started"], alert["fired"], alert["resolved"]),
    ], "the pure engine on the same FWJRs decides what the worker decided"

    table = alert_stack.fwjr("alerts").stdout.decode()
    assert table.splitlines()[0].split()[:2] == ["state", "scope"] and f"site={SITE}" in table

    def iso(ts: int) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))

    report = json.loads(alert_stack.fwjr("correlate", "--from", iso(first_fwjr - 60), "--to", iso(first_fwjr + 80 * 60)).stdout)
    by_service = {entry["outage"]["service"]: entry for entry in report["outages"]}
    assert by_service["EOS"]["by_exit_code"][0]["exit_code"] == 8021
    assert abs(by_service["FTS"]["excess"]) < 0.2 * by_service["EOS"]["excess"]
    assert {v["exit_code"]: v["verdict"] for v in report["exit_codes"]}[8021].startswith("likely service problem")

    subjects = [m["Subject"] for m in box.messages[:2]]
    assert subjects == [f"[FIRING] FWJR error-rate spike at site={SITE}", f"[RESOLVED] FWJR error-rate spike at site={SITE}"]


def _metric(stack: Stack, name: str) -> dict[str, float]:
    url = f"http://127.0.0.1:{stack.env['FWJR_METRICS_PORT']}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    values = {}
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            labels, _, value = line.rpartition(" ")
            values[labels] = float(value)
    return values


def test_bad_status_events_are_rejected_with_a_reason_and_counted(alert_stack: Stack) -> None:
    before = _a_closed_eos_outage(alert_stack)
    bad = [
        {"service": "EOS", "state": "sideways", "ts": int(time.time())},
        {"state": "down", "ts": int(time.time())},
        {"service": "EOS", "state": "down", "ts": int(time.time()) + 86400},
    ]
    producer = Producer({"bootstrap.servers": _bootstrap(alert_stack)})
    for doc in bad:
        producer.produce("service.status", json.dumps(doc).encode())
    producer.produce("service.status", b"{not json")
    producer.flush(10)

    def counted() -> dict[str, float]:
        return _metric(alert_stack, "fwjr_status_rejected_total")

    _wait_for(lambda: sum(counted().values()) >= 4, 30, "four rejected status events counted")
    reasons = " ".join(counted())
    assert "unknown state" in reasons and "no service" in reasons and "in the future" in reasons and "not JSON" in reasons

    consumer = Consumer({"bootstrap.servers": _bootstrap(alert_stack), "group.id": f"t-{uuid.uuid4().hex}", "auto.offset.reset": "earliest"})
    consumer.subscribe(["fwjr.dlq"])
    dead, deadline = [], time.monotonic() + 20
    while len(dead) < 4 and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and message.error() is None and message.topic() == "fwjr.dlq":
            headers = dict(message.headers() or [])
            if headers.get("source") == b"service.status":
                dead.append(headers["reason"].decode())
    consumer.close()
    assert len(dead) == 4
    after = _eos_outages(alert_stack)
    assert after == before, "the rejected 'EOS down' from the future opened or changed an outage"
    assert after and all(o["end"] is not None for o in after)


def _eos_outages(stack: Stack) -> list[dict]:
    """EOS's outage windows from a week ago to two days ahead, through the board's API.

    `fwjr outages` ends its range now, so an outage opened by an event from the future would not show.
    """
    now = int(time.time())
    query = urllib.parse.urlencode({"service": "EOS", "from": now - 8 * 86400, "to": now + 2 * 86400})
    url = f"http://127.0.0.1:{stack.env['FWJR_DASHBOARD_PORT']}/api/v1/outages?{query}"
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())["outages"]


def _a_closed_eos_outage(stack: Stack) -> list[dict]:
    """EOS's outages once one more, closed, a day ago, is recorded: what rejected events must leave alone."""
    start = int(time.time()) - 86400
    stack.fwjr("service-status", "EOS", "down", "--at", iso(start))
    stack.fwjr("service-status", "EOS", "up", "--at", iso(start + 60))
    _wait_for(lambda: any((o["start"], o["end"]) == (start, start + 60) for o in _eos_outages(stack)), 30, "the hand-made EOS outage")
    return _eos_outages(stack)


def _a_minute_after(start: object) -> str:
    """An ISO time 60 s after an outage start (epoch seconds or ISO text), for an exact duration."""
    seconds = start if isinstance(start, (int, float)) else parse_iso(str(start))
    return iso(int(seconds) + 60)


def test_service_status_by_hand_opens_and_closes_an_outage(alert_stack: Stack) -> None:
    alert_stack.fwjr("service-status", "Rucio", "degraded", "--message", "slow rule evaluation")

    def rucio() -> list[dict]:
        return alert_stack.jsonl("outages", "Rucio")

    _wait_for(lambda: len(rucio()) == 1, 30, "the Rucio outage to open")
    opened = rucio()[0]
    assert (opened["state"], opened["end"], opened["message"]) == ("degraded", None, "slow rule evaluation")
    alert_stack.fwjr("service-status", "Rucio", "up", "--at", _a_minute_after(opened["start"]))
    _wait_for(lambda: rucio()[0]["end"] is not None, 30, "the Rucio outage to close")
    closed = rucio()[0]
    assert (closed["start"], closed["end"], closed["duration"]) == (opened["start"], opened["start"] + 60, 60)
    refused = alert_stack.fwjr("service-status", "Rucio", "sideways", check=False)
    assert refused.returncode == 2 and b"unknown state" in refused.stderr
