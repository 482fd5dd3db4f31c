"""Alert receivers: Alertmanager (fwjr/alerting/alertmanager.py), an HTTP webhook with an
Alertmanager-compatible body, and e-mail over SMTP.

Each receiver has its own background thread and queue, so a slow or failing receiver
neither blocks the stream nor delays the other receivers. A delivery is retried with
exponential backoff and given up (logged, counted) after the configured attempts. A
receiver that keeps alert state itself (Alertmanager) is also ticked from its thread to
re-send what is firing, hears the alerts restored after a restart, and takes the
maintenance announcements.
"""

from __future__ import annotations

import json
import logging
import queue
import smtplib
import threading
import time
import urllib.request
from collections.abc import Callable
from email.message import EmailMessage
from typing import Protocol, runtime_checkable

from fwjr.alerting.alertmanager import ALERTNAME, SEVERITY, AlertmanagerReceiver, rfc3339, summary
from fwjr.alerting.model import Alert, Decision
from fwjr.alerting.status import StatusEvent

log = logging.getLogger("fwjr.alerts")
_STOP = object()


def alertmanager_body(decision: Decision, receiver: str, external_url: str) -> dict:
    """The JSON body Alertmanager's webhook receiver sends (version 4), for one alert's state change."""
    alert = decision.alert
    status = "resolved" if decision.action == "resolve" else "firing"
    labels = {"alertname": ALERTNAME, "scope": alert.scope, "value": alert.value, "severity": SEVERITY}
    annotations = {
        "summary": summary(alert),
        "evidence": json.dumps(alert.evidence, sort_keys=True),
        "members": ", ".join(alert.members),
    }
    return {
        "version": "4",
        "groupKey": f"{{}}:{{alertname=\"{ALERTNAME}\", scope=\"{alert.scope}\", value=\"{alert.value}\"}}",
        "truncatedAlerts": 0,
        "status": status,
        "receiver": receiver,
        "groupLabels": {"alertname": ALERTNAME, "scope": alert.scope, "value": alert.value},
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": external_url,
        "alerts": [
            {
                "status": status,
                "labels": labels,
                "annotations": annotations,
                "startsAt": rfc3339(alert.fired),
                "endsAt": rfc3339(alert.resolved),
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
    lines = [summary(alert), "", f"fired {rfc3339(alert.fired)}", f"resolved {rfc3339(alert.resolved) if alert.resolved else '-'}"]
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


@runtime_checkable
class StatefulReceiver(Protocol):
    """A receiver that holds alert state itself (Alertmanager): it forgets a firing alert unless
    told again every `resend_interval` seconds, and it silences planned maintenance."""

    name: str
    resend_interval: float

    def send(self, decision: Decision) -> None:
        """Deliver once; raise on failure (the dispatcher retries)."""

    def resend(self) -> int:
        """Re-send every firing alert; the number sent (0 = nothing to send). Raise on failure."""

    def silence(self, event: StatusEvent) -> str | None:
        """Silence the alerts blaming a service during its maintenance window. Raise on failure."""


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

    def restore(self, alert: Alert) -> None:
        """An alert still firing after a restart: stateful receivers hear it again (the others already did)."""
        for receiver, lane, _ in self._lanes:
            if isinstance(receiver, StatefulReceiver):
                lane.put(Decision("fire", alert))

    def restore_resolved(self, alert: Alert) -> None:
        """An alert resolved shortly before a restart: stateful receivers hear the resolve again, in
        case the process stopped before it reached them (Alertmanager merges a repeat by labels)."""
        for receiver, lane, _ in self._lanes:
            if isinstance(receiver, StatefulReceiver):
                lane.put(Decision("resolve", alert))

    def maintenance(self, event: StatusEvent) -> None:
        """A maintenance announcement, for the receivers that silence."""
        for receiver, lane, _ in self._lanes:
            if isinstance(receiver, StatefulReceiver):
                lane.put(event)

    def close(self, timeout: float = 5.0) -> None:
        """Stop after the queued deliveries (waiting up to `timeout` seconds in all)."""
        for _, lane, _ in self._lanes:
            lane.put(_STOP)
        for _, _, thread in self._lanes:
            thread.join(timeout)
        self._stopping.set()

    def _run(self, receiver: Receiver, lane: queue.Queue) -> None:
        """Deliver what is queued; a stateful receiver is also ticked every `resend_interval`,
        even while deliveries keep coming."""
        interval = receiver.resend_interval if isinstance(receiver, StatefulReceiver) else None
        due = None if interval is None else time.monotonic() + interval
        while True:
            if due is not None and time.monotonic() >= due:
                self._resend(receiver)
                due = time.monotonic() + interval
            try:
                item = lane.get(timeout=None if due is None else max(due - time.monotonic(), 0.0))
            except queue.Empty:
                continue
            if item is _STOP:
                return
            self._count(receiver, self._deliver(receiver, item))

    def _count(self, receiver: Receiver, ok: bool) -> None:
        (self.delivered if ok else self.failed)[receiver.name] += 1
        if self.on_result is not None:
            self.on_result(receiver.name, ok)

    def _resend(self, receiver: StatefulReceiver) -> None:
        """One re-send, not retried: the next tick is the retry, and each re-send outlives a few ticks."""
        try:
            sent = receiver.resend()
        except Exception as exc:  # a failed re-send must not stop the receiver's thread
            log.warning("%s: re-sending the firing alerts failed: %s", receiver.name, exc)
            self._count(receiver, False)
            return
        if sent:
            self._count(receiver, True)

    def _deliver(self, receiver: Receiver, item: Decision | StatusEvent) -> bool:
        if isinstance(item, Decision):
            what, deliver = f"alert {item.alert.id} ({item.action})", lambda: receiver.send(item)
        else:
            what, deliver = f"maintenance silence of {item.service}", lambda: receiver.silence(item)
        delay = self.backoff
        for attempt in range(1, self.attempts + 1):
            try:
                deliver()
                return True
            except Exception as exc:  # any failure of a receiver is retried, never raised into the stream
                log.warning("%s: delivery %d/%d of %s failed: %s", receiver.name, attempt, self.attempts, what, exc)
            if attempt < self.attempts and self._stopping.wait(delay):
                break
            delay *= 2
        log.error("%s: gave up on %s after %d attempts", receiver.name, what, self.attempts)
        return False


def receivers_from_settings(settings: object) -> list[Receiver]:
    """The receivers the settings configure: Alertmanagers, webhooks, and e-mail when an SMTP host
    and recipients are set. Their links point at the board's public address."""
    external = settings.public_url + "/"
    credentials = None
    if settings.alertmanager_username is not None:
        credentials = (settings.alertmanager_username, settings.alertmanager_password or "")
    found: list[Receiver] = [AlertmanagerReceiver(url, external, settings.alertmanager_resend_interval, credentials=credentials)
                             for url in settings.alertmanager_urls]
    found += [WebhookReceiver(url, external) for url in settings.alert_webhook_urls]
    if settings.alert_smtp_host and settings.alert_email_to:
        found.append(EmailReceiver(settings.alert_smtp_host, settings.alert_smtp_port, settings.alert_email_from,
                                   list(settings.alert_email_to), external))
    return found
