"""Alertmanager as a receiver, against a real Alertmanager (the shipped routing) notifying a real
webhook server: grouping, labels and annotations, resolve, re-sends while firing, restored alerts,
and maintenance silences. The alerter's use of it end to end: tests/integration/test_alerter_live.py."""

from __future__ import annotations

import json
import time
import urllib.error
from datetime import datetime
from pathlib import Path

import pytest

from fwjr.alerting.alertmanager import AlertmanagerReceiver, rfc3339
from fwjr.alerting.model import Alert, Decision
from fwjr.alerting.receivers import Dispatcher, WebhookReceiver
from fwjr.alerting.status import StatusEvent
from tests.fixtures.alert_receivers import serve_webhook
from tests.fixtures.alerting_infra import Alertmanager, alertmanager  # noqa: F401 (fixture)
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.real_clock  # Alertmanager keeps real time

BOARD = "http://board.example:8050/"


def _alert(alert_id: str, scope: str, value: str, services: list[str], resolved: int | None = None) -> Alert:
    now = int(time.time())
    causes = [{"service": s, "state": "down", "start": now - 900, "end": None} for s in services]
    return Alert(
        id=alert_id, scope=scope, value=value, state="resolved" if resolved else "firing",
        started=now - 600, fired=now - 420, resolved=resolved,
        evidence={"rate": 0.42, "baseline": 0.03, "z": 12.5, "jobs": 100, "failures": 42, "expected": 3.0,
                  "window_minutes": 5, "top_exit_codes": [], "suspected_causes": causes},
        members=["all jobs"],
    )


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _held(am: Alertmanager, alert_id: str) -> dict | None:
    """The alert as Alertmanager holds it (by the alert_id annotation), or None."""
    return next((a for a in am.alerts() if a["annotations"].get("alert_id") == alert_id), None)


def _notified(am: Alertmanager, status: str, ids: set[str]) -> dict | None:
    """The first webhook notification with `status` that holds every alert in `ids`."""
    for body in am.webhook.bodies:
        if body["status"] == status and ids <= {a["annotations"]["alert_id"] for a in body["alerts"]}:
            return body
    return None


def test_alerts_blamed_on_one_outage_are_one_notification_and_resolve(alertmanager: Alertmanager) -> None:  # noqa: F811
    dispatcher = Dispatcher([AlertmanagerReceiver(alertmanager.url, BOARD)], attempts=3, backoff=0.05)
    site = _alert("s1", "site", "T2_CH_CERN", ["EOS"])
    code = _alert("c1", "exit_code", "8021", ["EOS"])
    other = _alert("w1", "workflow", "pdmvserv_task_1", [])
    for alert in (site, code, other):
        dispatcher.submit(Decision("fire", alert))
    wait_until(lambda: _notified(alertmanager, "firing", {"s1", "c1"}), 30, "the EOS group's notification")
    wait_until(lambda: _notified(alertmanager, "firing", {"w1"}), 30, "the other group's notification")

    body = _notified(alertmanager, "firing", {"s1", "c1"})
    assert body["groupLabels"] == {"alertname": "FWJRErrorRateSpike", "service": "EOS"}
    assert "w1" not in {a["annotations"]["alert_id"] for a in body["alerts"]}
    by_id = {a["annotations"]["alert_id"]: a for a in body["alerts"]}
    assert by_id["s1"]["labels"] == {"alertname": "FWJRErrorRateSpike", "scope": "site", "site": "T2_CH_CERN",
                                     "severity": "page", "service": "EOS"}
    assert by_id["c1"]["labels"]["exit_code"] == "8021"
    annotations = by_id["s1"]["annotations"]
    assert annotations["summary"].startswith("failure rate 42.0% at site=T2_CH_CERN (baseline 3.0%")
    assert "suspected cause: EOS down" in annotations["summary"]
    assert annotations["suspected_cause"].startswith("EOS down from ") and annotations["suspected_cause"].endswith("(open)")
    assert json.loads(annotations["evidence"])["failures"] == 42
    assert annotations["board_url"].startswith("http://board.example:8050/explorer?site=T2_CH_CERN&tf=custom&from=")
    assert by_id["s1"]["generatorURL"] == annotations["board_url"]
    assert by_id["s1"]["startsAt"] == rfc3339(site.fired)
    unexplained = _notified(alertmanager, "firing", {"w1"})
    assert unexplained["alerts"][0]["labels"] == {"alertname": "FWJRErrorRateSpike", "scope": "workflow",
                                                  "workflow": "pdmvserv_task_1", "severity": "page"}

    resolved_at = int(time.time()) - 60
    for alert in (site, code):
        dispatcher.submit(Decision("resolve", _alert(alert.id, alert.scope, alert.value, ["EOS", "FTS"], resolved=resolved_at)))
    wait_until(lambda: _notified(alertmanager, "resolved", {"s1", "c1"}), 30, "the resolved notification")
    dispatcher.close()
    done = _notified(alertmanager, "resolved", {"s1", "c1"})
    assert {a["status"] for a in done["alerts"]} == {"resolved"}
    assert {a["endsAt"] for a in done["alerts"]} == {rfc3339(resolved_at)}
    # the labels stay those it fired with, though the resolve's evidence blames one more service
    assert all(a["labels"]["service"] == "EOS" for a in done["alerts"])
    assert "FTS down" in {a["annotations"]["alert_id"]: a for a in done["alerts"]}["s1"]["annotations"]["summary"]


def test_firing_alerts_are_resent_and_lapse_once_the_sender_stops(alertmanager: Alertmanager) -> None:  # noqa: F811
    receiver = AlertmanagerReceiver(alertmanager.url, BOARD, resend_interval=0.5)
    dispatcher = Dispatcher([receiver], attempts=3, backoff=0.05)
    dispatcher.submit(Decision("fire", _alert("r1", "site", "T1_US_FNAL_Disk", [])))
    wait_until(lambda: _held(alertmanager, "r1"), 30, "Alertmanager to hold the alert")
    first_end = _epoch(_held(alertmanager, "r1")["endsAt"])
    # Each post is valid 2 s; an endsAt 3 s past the first means re-sends kept it alive past its first validity.
    wait_until(lambda: _epoch(_held(alertmanager, "r1")["endsAt"]) >= first_end + 3, 30, "re-sends to move endsAt on")
    assert _held(alertmanager, "r1")["status"]["state"] == "active"
    assert not _notified(alertmanager, "resolved", {"r1"})
    assert dispatcher.delivered[receiver.name] >= 3 and dispatcher.failed[receiver.name] == 0

    dispatcher.close()
    wait_until(lambda: _notified(alertmanager, "resolved", {"r1"}), 30, "Alertmanager to resolve the lapsed alert")


def test_a_restored_alert_goes_to_alertmanager_only(alertmanager: Alertmanager) -> None:  # noqa: F811
    with serve_webhook() as hook:
        receiver = AlertmanagerReceiver(alertmanager.url, BOARD)
        webhook = WebhookReceiver(hook.url, BOARD)
        dispatcher = Dispatcher([receiver, webhook], attempts=3, backoff=0.05)
        dispatcher.restore(_alert("k1", "site", "T2_US_MIT", ["CMSWEB"]))
        dispatcher.close()
        assert dispatcher.delivered == {receiver.name: 1, webhook.name: 0}
        assert hook.bodies == []
    held = _held(alertmanager, "k1")
    assert held["labels"]["site"] == "T2_US_MIT" and held["labels"]["service"] == "CMSWEB"
    assert receiver.firing.keys() == {"k1"}


def test_a_maintenance_silence_suppresses_only_alerts_blaming_that_service(alertmanager: Alertmanager) -> None:  # noqa: F811
    now = int(time.time())
    receiver = AlertmanagerReceiver(alertmanager.url, BOARD)
    maintenance = StatusEvent(service="EOS", state="maintenance", ts=now, start=now - 60, end=now + 3600,
                              message="namespace upgrade", source="downtime calendar")
    silence_id = receiver.silence(maintenance)
    assert receiver.silence(maintenance) == silence_id  # an announcement seen twice silences once
    (silence,) = alertmanager.silences()
    assert silence["status"]["state"] == "active" and silence["createdBy"] == "fwjr-monitor"
    assert silence["comment"] == "planned maintenance of EOS: namespace upgrade (from downtime calendar)"
    assert _epoch(silence["endsAt"]) == now + 3600
    assert receiver.silence(StatusEvent(service="FTS", state="maintenance", ts=now, start=now - 7200, end=now - 3600)) is None

    dispatcher = Dispatcher([receiver], attempts=3, backoff=0.05)
    dispatcher.submit(Decision("fire", _alert("m1", "site", "T2_CH_CERN", ["EOS"])))
    dispatcher.submit(Decision("fire", _alert("m2", "site", "T1_IT_CNAF_Disk", ["CMSWEB", "EOS"])))
    wait_until(lambda: all(_held(alertmanager, i) for i in ("m1", "m2")), 30, "Alertmanager to hold the silenced alerts")
    dispatcher.submit(Decision("fire", _alert("m3", "site", "T2_DE_DESY", ["EOSCMS"])))
    wait_until(lambda: _notified(alertmanager, "firing", {"m3"}), 30, "the unsilenced alert's notification")
    dispatcher.close()

    for alert_id in ("m1", "m2"):
        state = _held(alertmanager, alert_id)["status"]
        assert state["state"] == "suppressed" and state["silencedBy"] == [silence_id], alert_id
    assert _held(alertmanager, "m3")["status"]["state"] == "active"
    notified = {a["annotations"]["alert_id"] for body in alertmanager.webhook.bodies for a in body["alerts"]}
    assert notified == {"m3"}


def test_an_alertmanager_that_asks_for_credentials_takes_the_alerters_and_refuses_none(tmp_path: Path) -> None:
    from tests.fixtures.alerting_infra import run_alertmanager

    with run_alertmanager(tmp_path, credentials=("fwjr-alerter", "s3cret")) as guarded:
        anonymous = AlertmanagerReceiver(guarded.url, BOARD)
        with pytest.raises(urllib.error.HTTPError, match="401"):
            anonymous.send(Decision("fire", _alert("a0", "site", "T2_CH_CERN", [])))
        wrong = AlertmanagerReceiver(guarded.url, BOARD, credentials=("fwjr-alerter", "guess"))
        with pytest.raises(urllib.error.HTTPError, match="401"):
            wrong.send(Decision("fire", _alert("a1", "site", "T2_CH_CERN", [])))
        receiver = AlertmanagerReceiver(guarded.url, BOARD, credentials=("fwjr-alerter", "s3cret"))
        receiver.send(Decision("fire", _alert("a2", "site", "T2_CH_CERN", [])))
        held = receiver._request("/api/v2/alerts")
        assert [a["annotations"]["alert_id"] for a in held] == ["a2"]
