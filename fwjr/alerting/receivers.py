"""Alert receivers: an HTTP webhook with an Alertmanager-compatible body, and e-mail over SMTP.

Each receiver has its own background thread and queue, so a slow or failing receiver
neither blocks the stream nor delays the other receivers. A delivery is retried with
exponential backoff and given up (logged, counted) after the configured attempts.
"""

from __future__ import annotations

import json
import logging
import queue
import smtplib
import threading
import urllib.request
from collections.abc import Callable
from datetime import datetime, timezone
from email.message import EmailMessage
from typing import Protocol

from fwjr.alerting.rule import Alert, Decision

log = logging.getLogger("fwjr.alerts")
_STOP = object()


def _rfc3339(ts: int | None) -> str:
    if ts is None:
        return "0001-01-01T00:00:00Z"
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _summary(alert: Alert) -> str:
    evidence = alert.evidence
    text = (
        f"failure rate {evidence['rate']:.1%} at {alert.label()} "
        f"(baseline {evidence['baseline']:.1%}, {evidence['failures']}/{evidence['jobs']} jobs "
        f"in {evidence['window_minutes']} min)"
    )
    causes = evidence.get("suspected_causes") or []
    if causes:
        text += "; suspected cause: " + ", ".join(f"{c['service']} {c['state']}" for c in causes)
    return text


def alertmanager_body(decision: Decision, receiver: str, external_url: str) -> dict:
    """The JSON body Alertmanager's webhook receiver sends (version 4), for one alert's state change."""
    alert = decision.alert
    status = "resolved" if decision.action == "resolve" else "firing"
    labels = {"alertname": "FWJRErrorRateSpike", "scope": alert.scope, "value": alert.value, "severity": "page"}
    annotations = {
        "summary": _summary(alert),
        "evidence": json.dumps(alert.evidence, sort_keys=True),
        "members": ", ".join(alert.members),
    }
    return {
        "version": "4",
        "groupKey": f"{{}}:{{alertname=\"FWJRErrorRateSpike\", scope=\"{alert.scope}\", value=\"{alert.value}\"}}",
        "truncatedAlerts": 0,
        "status": status,
        "receiver": receiver,
        "groupLabels": {"alertname": "FWJRErrorRateSpike", "scope": alert.scope, "value": alert.value},
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": external_url,
        "alerts": [
            {
                "status": status,
                "labels": labels,
                "annotations": annotations,
                "startsAt": _rfc3339(alert.fired),
                "endsAt": _rfc3339(alert.resolved),
                "generatorURL": f"{external_url.rstrip('/')}/outages",
                "fingerprint": alert.id,
            }
        ],
    }


def email_message(decision: Decision, sender: str, recipients: list[str], external_url: str) -> EmailMessage:
    """A plain-text e-mail for one alert's state change: the summary, then the evidence."""
    alert = decision.alert
    state = "RESOLVED" if decision.action == "resolve" else "FIRING"
    message = EmailMessage()
    message["Subject"] = f"[{state}] FWJR error-rate spike at {alert.label()}"
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    lines = [_summary(alert), "", f"fired {_rfc3339(alert.fired)}", f"resolved {_rfc3339(alert.resolved) if alert.resolved else '-'}"]
    lines.append("also moved: " + (", ".join(alert.members) or "-"))
    lines.append("")
    for code in alert.evidence.get("top_exit_codes", []):
        lines.append(f"exit code {code['exit_code']}: {code['failures']} failures, {code['description']}")
        if code.get("procedure"):
            lines.append(f"  cause: {code['procedure']['cause']}; procedure: {code['procedure']['normal']}")
    lines += ["", f"board: {external_url.rstrip('/')}/outages", "", json.dumps(alert.evidence, indent=2, sort_keys=True)]
    message.set_content("\n".join(lines))
    return message


class Receiver(Protocol):
    name: str

    def send(self, decision: Decision) -> None:
        """Deliver once; raise on failure (the dispatcher retries)."""


class WebhookReceiver:
    """POSTs the Alertmanager-compatible JSON body to a URL; any non-2xx answer is a failure."""

    def __init__(self, url: str, external_url: str, timeout: float = 10.0) -> None:
        self.url = url
        self.name = f"webhook {url}"
        self.external_url = external_url
        self.timeout = timeout

    def send(self, decision: Decision) -> None:
        body = json.dumps(alertmanager_body(decision, self.name, self.external_url)).encode()
        request = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            if not 200 <= response.status < 300:
                raise RuntimeError(f"{self.url} answered HTTP {response.status}")


class EmailReceiver:
    """Sends a plain-text e-mail through an SMTP server."""

    def __init__(self, host: str, port: int, sender: str, recipients: list[str], external_url: str, timeout: float = 10.0) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.recipients = recipients
        self.external_url = external_url
        self.timeout = timeout
        self.name = f"smtp {host}:{port}"

    def send(self, decision: Decision) -> None:
        message = email_message(decision, self.sender, self.recipients, self.external_url)
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            smtp.send_message(message)


class Dispatcher:
    """One background thread per receiver; `submit` never waits on a receiver."""

    def __init__(self, receivers: list[Receiver], attempts: int = 6, backoff: float = 1.0,
                 on_result: Callable[[str, bool], None] | None = None) -> None:
        self.attempts = attempts
        self.backoff = backoff
        self.on_result = on_result
        self.delivered: dict[str, int] = {r.name: 0 for r in receivers}
        self.failed: dict[str, int] = {r.name: 0 for r in receivers}
        self._stopping = threading.Event()
        self._lanes: list[tuple[Receiver, queue.Queue, threading.Thread]] = []
        for receiver in receivers:
            lane: queue.Queue = queue.Queue()
            thread = threading.Thread(target=self._run, args=(receiver, lane), name=f"alerts→{receiver.name}", daemon=True)
            thread.start()
            self._lanes.append((receiver, lane, thread))

    def submit(self, decision: Decision) -> None:
        for _, lane, _ in self._lanes:
            lane.put(decision)

    def close(self, timeout: float = 5.0) -> None:
        """Stop after the queued deliveries (waiting up to `timeout` seconds in all)."""
        for _, lane, _ in self._lanes:
            lane.put(_STOP)
        for _, _, thread in self._lanes:
            thread.join(timeout)
        self._stopping.set()

    def _run(self, receiver: Receiver, lane: queue.Queue) -> None:
        while True:
            item = lane.get()
            if item is _STOP:
                return
            ok = self._deliver(receiver, item)
            (self.delivered if ok else self.failed)[receiver.name] += 1
            if self.on_result is not None:
                self.on_result(receiver.name, ok)

    def _deliver(self, receiver: Receiver, decision: Decision) -> bool:
        delay = self.backoff
        for attempt in range(1, self.attempts + 1):
            try:
                receiver.send(decision)
                return True
            except Exception as exc:  # any failure of a receiver is retried, never raised into the stream
                log.warning("%s: delivery %d/%d of alert %s (%s) failed: %s", receiver.name, attempt, self.attempts,
                            decision.alert.id, decision.action, exc)
            if attempt < self.attempts and self._stopping.wait(delay):
                break
            delay *= 2
        log.error("%s: gave up on alert %s (%s) after %d attempts", receiver.name, decision.alert.id, decision.action, self.attempts)
        return False


def receivers_from_settings(settings: object) -> list[Receiver]:
    """The receivers the settings configure (webhooks, and e-mail when an SMTP host and recipients are set)."""
    external = f"http://{settings.dashboard_host}:{settings.dashboard_port}/"
    found: list[Receiver] = [WebhookReceiver(url, external) for url in settings.alert_webhook_urls]
    if settings.alert_smtp_host and settings.alert_email_to:
        found.append(EmailReceiver(settings.alert_smtp_host, settings.alert_smtp_port, settings.alert_email_from,
                                   list(settings.alert_email_to), external))
    return found
