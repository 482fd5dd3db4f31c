"""Receivers against real local servers: Alertmanager-style webhook, SMTP, retries, no blocking."""

from __future__ import annotations

import threading

from fwjr.alerting.model import Alert, Decision
from fwjr.alerting.receivers import Dispatcher, EmailReceiver, WebhookReceiver
from fwjr.devstack.broker import free_port
from tests.fixtures.alert_receivers import Mailbox, Webhook, mailbox, serve_webhook, webhook  # noqa: F401 (fixtures)
from tests.fixtures.waiting import wait_until

BOARD = "http://board.example/"


def _decision(action: str = "fire") -> Decision:
    alert = Alert(
        id="abc123", scope="site", value="T2_CH_CERN", state="firing" if action == "fire" else "resolved",
        started=1_790_000_000, fired=1_790_000_180, resolved=None if action == "fire" else 1_790_000_900,
        evidence={
            "rate": 0.42, "baseline": 0.03, "z": 12.5, "jobs": 100, "failures": 42, "expected": 3.0, "window_minutes": 5,
            "top_exit_codes": [{"exit_code": 8021, "failures": 40, "description": "FileReadError",
                                "procedure": {"cause": "input missing", "normal": "ACDC"}}],
            "suspected_causes": [{"service": "EOS", "state": "down", "start": 1_789_999_900, "end": None}],
        },
        members=["all jobs", "exit_code=8021"],
    )
    return Decision(action, alert)


def _wait(condition, timeout: float = 20.0) -> None:
    wait_until(condition, timeout, "the receiver", poll=0.05)


def test_webhook_gets_an_alertmanager_body_after_retrying_a_refusal(webhook: Webhook) -> None:  # noqa: F811
    webhook.fail_first = 2
    dispatcher = Dispatcher([WebhookReceiver(webhook.url, BOARD)], attempts=4, backoff=0.05)
    dispatcher.submit(_decision("fire"))
    dispatcher.submit(_decision("resolve"))
    _wait(lambda: len(webhook.bodies) == 2)
    dispatcher.close()
    assert webhook.refused == 2
    fired, resolved = webhook.bodies
    assert (fired["version"], fired["status"], resolved["status"]) == ("4", "firing", "resolved")
    alert = fired["alerts"][0]
    assert alert["labels"] == {"alertname": "FWJRErrorRateSpike", "scope": "site", "value": "T2_CH_CERN", "severity": "page"}
    assert alert["startsAt"] == "2026-09-21T14:16:20Z" and alert["fingerprint"] == "abc123"
    assert "EOS down" in alert["annotations"]["summary"]
    assert resolved["alerts"][0]["endsAt"] == "2026-09-21T14:28:20Z"
    assert dispatcher.delivered == {f"webhook {webhook.url}": 2}


def test_email_carries_the_evidence(mailbox: Mailbox) -> None:  # noqa: F811
    dispatcher = Dispatcher([EmailReceiver(mailbox.host, mailbox.port, "monitor@example.org", ["oncall@example.org"], BOARD)])
    dispatcher.submit(_decision("fire"))
    _wait(lambda: len(mailbox.messages) == 1)
    dispatcher.close()
    message = mailbox.messages[0]
    assert message["Subject"] == "[FIRING] FWJR error-rate spike at site=T2_CH_CERN"
    body = message.get_payload()
    assert "exit code 8021: 40 failures, FileReadError" in body and "procedure: ACDC" in body and "EOS down" in body


def test_a_dead_receiver_neither_blocks_the_caller_nor_the_other_receivers(webhook: Webhook) -> None:  # noqa: F811
    """One receiver hangs inside its first delivery until the test lets it go, one refuses every
    connection: while the first still hangs, the caller's submits return, the healthy receiver gets
    every alert, the refusing one gives each up, and the hung one's alerts wait for it in order."""
    with serve_webhook() as hung_hook:
        hung_hook.gate = threading.Event()
        hung = WebhookReceiver(hung_hook.url, BOARD, timeout=600)
        refusing = WebhookReceiver(f"http://127.0.0.1:{free_port()}/nobody", BOARD, timeout=1.0)
        healthy = WebhookReceiver(webhook.url, BOARD)
        dispatcher = Dispatcher([hung, refusing, healthy], attempts=2, backoff=0.05)
        hanging = threading.Event()

        def caller() -> None:
            """The stream's side: one alert, then four more once the hung receiver is inside the first."""
            dispatcher.submit(_decision("fire"))
            hanging.wait()
            for action in ("resolve", "fire", "resolve", "fire"):
                dispatcher.submit(_decision(action))

        submitter = threading.Thread(target=caller, daemon=True)
        try:
            submitter.start()
            _wait(lambda: hung_hook.arrived == 1)
            hanging.set()
            _wait(lambda: not submitter.is_alive())
            _wait(lambda: len(webhook.bodies) == 5 and dispatcher.failed[refusing.name] == 5)
            assert not hung_hook.gate.is_set() and (hung_hook.arrived, hung_hook.bodies) == (1, [])
            assert [b["status"] for b in webhook.bodies] == ["firing", "resolved", "firing", "resolved", "firing"]
            assert (dispatcher.delivered[hung.name], dispatcher.delivered[refusing.name]) == (0, 0)
        finally:
            hung_hook.gate.set()
        _wait(lambda: dispatcher.delivered[hung.name] == 5)
        assert [b["status"] for b in hung_hook.bodies] == [b["status"] for b in webhook.bodies]
        assert hung_hook.arrived == 5
        dispatcher.close()
