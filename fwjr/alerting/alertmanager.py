"""Alertmanager as a receiver: alerts posted to its v2 API, kept alive while they fire, and
silences for planned maintenance.

Alertmanager, not this monitor, then groups, routes, silences and inhibits. It treats an
alert as firing until its `endsAt`, so, as Prometheus does, every firing alert is sent
again each `resend_interval` with `endsAt` RESEND_VALIDITY intervals ahead: an alert
whose sender died resolves by itself, and a live one never lapses between re-sends. A
resolved alert is sent once more with `endsAt` = its resolve time.

Alertmanager identifies an alert by its label set, so an alert's labels are fixed when it
fires and reused until it resolves (the evidence, in annotations, may change).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
import urllib.request
from datetime import datetime, timezone
from urllib.parse import urlencode

from fwjr.alerting.model import Alert, Decision
from fwjr.alerting.status import StatusEvent

log = logging.getLogger("fwjr.alerts")

ALERTNAME = "FWJRErrorRateSpike"
SEVERITY = "page"
# The label naming the services suspected of causing an alert (comma separated, sorted);
# maintenance silences match on it.
SERVICE_LABEL = "service"
SILENCE_AUTHOR = "fwjr-monitor"
RESEND_VALIDITY = 4
BOARD_CONTEXT_SECONDS = 3600


def rfc3339(ts: float | None) -> str:
    """A UTC timestamp as Alertmanager writes it; None is Go's zero time (no end)."""
    if ts is None:
        return "0001-01-01T00:00:00Z"
    return datetime.fromtimestamp(int(ts), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def suspected_services(alert: Alert) -> list[str]:
    """The services whose outages overlap the alert (its suspected causes), sorted."""
    return sorted({cause["service"] for cause in alert.evidence.get("suspected_causes") or []})


def summary(alert: Alert) -> str:
    """One line for on-call: the rate against its baseline, and the suspected cause."""
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


def alert_labels(alert: Alert) -> dict[str, str]:
    """alertname, scope, the scope's own key (site, workflow or exit_code) with its value, severity,
    and the suspected services when there are any."""
    labels = {"alertname": ALERTNAME, "scope": alert.scope, "severity": SEVERITY}
    if alert.scope != "all":
        labels[alert.scope] = alert.value
    services = suspected_services(alert)
    if services:
        labels[SERVICE_LABEL] = ",".join(services)
    return labels


def board_link(alert: Alert, board_url: str) -> str:
    """The board's view of the alert: the explorer on its scope around the incident, or the outages page."""
    base = board_url.rstrip("/")
    if alert.scope == "all":
        return f"{base}/outages"
    end = (alert.resolved or alert.fired) + BOARD_CONTEXT_SECONDS
    params = {alert.scope: alert.value, "tf": "custom", "from": rfc3339(alert.started - BOARD_CONTEXT_SECONDS), "to": rfc3339(end)}
    return f"{base}/explorer?{urlencode(params)}"


def annotations(alert: Alert, board_url: str) -> dict[str, str]:
    """summary, the evidence as JSON, the suspected cause (outages), the scopes that also moved, the board link."""
    found = {
        "summary": summary(alert),
        "evidence": json.dumps(alert.evidence, sort_keys=True),
        "members": ", ".join(alert.members),
        "board_url": board_link(alert, board_url),
        "alert_id": alert.id,
    }
    causes = alert.evidence.get("suspected_causes") or []
    if causes:
        found["suspected_cause"] = "; ".join(
            f"{c['service']} {c['state']} from {rfc3339(c['start'])}" + (f" to {rfc3339(c['end'])}" if c.get("end") else " (open)")
            for c in causes
        )
    return found


def service_matcher(service: str) -> dict:
    """A v2 matcher for alerts whose suspected services include `service` (the label is a comma-separated list)."""
    return {"name": SERVICE_LABEL, "value": f"(.*,)?{re.escape(service)}(,.*)?", "isRegex": True, "isEqual": True}


def _epoch(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


class AlertmanagerReceiver:
    """Posts alerts to one Alertmanager and re-sends the firing ones; creates maintenance silences.

    Used from one dispatcher thread only, which owns `firing`.
    """

    def __init__(self, url: str, board_url: str, resend_interval: float = 60.0, timeout: float = 10.0,
                 credentials: tuple[str, str] | None = None) -> None:
        self.url = url.rstrip("/")
        self.headers = {"Content-Type": "application/json"}
        if credentials is not None:  # Alertmanager's --web.config.file basic_auth_users
            token = base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode()
            self.headers["Authorization"] = f"Basic {token}"
        self.name = f"alertmanager {self.url}"
        self.board_url = board_url
        self.resend_interval = resend_interval
        self.timeout = timeout
        self.firing: dict[str, dict] = {}

    def send(self, decision: Decision) -> None:
        """Fire: remember the alert and post it valid until a few re-sends ahead. Resolve: post it ended."""
        alert = decision.alert
        known = self.firing.get(alert.id)
        labels = known["labels"] if known else alert_labels(alert)
        posted = {
            "labels": labels,
            "annotations": annotations(alert, self.board_url),
            "startsAt": rfc3339(alert.fired),
            "generatorURL": board_link(alert, self.board_url),
        }
        if decision.action == "resolve":
            self.firing.pop(alert.id, None)
            ended = min(alert.resolved, time.time()) if alert.resolved else time.time()
            self._request("/api/v2/alerts", [{**posted, "endsAt": rfc3339(ended)}])
            return
        self.firing[alert.id] = posted
        self._request("/api/v2/alerts", [{**posted, "endsAt": self._valid_until()}])

    def resend(self) -> int:
        """Post every firing alert again with a later `endsAt`; the number posted."""
        if not self.firing:
            return 0
        until = self._valid_until()
        self._request("/api/v2/alerts", [{**posted, "endsAt": until} for posted in self.firing.values()])
        return len(self.firing)

    def silence(self, event: StatusEvent) -> str | None:
        """A silence of the alerts blaming the service for its maintenance window; its id.

        An identical silence of ours that is active or pending is reused, so a redelivered
        announcement (or one sent to each member of a cluster) does not silence twice. A window
        already over is skipped (None).
        """
        if event.start is None or event.end is None or event.end <= time.time():
            log.info("maintenance of %s ended at %s: no silence", event.service, rfc3339(event.end))
            return None
        matchers = [service_matcher(event.service)]
        for existing in self._request("/api/v2/silences"):
            if (
                existing["status"]["state"] != "expired"
                and existing["createdBy"] == SILENCE_AUTHOR
                and existing["matchers"] == matchers
                and _epoch(existing["endsAt"]) == event.end
            ):
                return existing["id"]
        comment = f"planned maintenance of {event.service}" + (f": {event.message}" if event.message else "")
        body = {
            "matchers": matchers,
            "startsAt": rfc3339(event.start),
            "endsAt": rfc3339(event.end),
            "createdBy": SILENCE_AUTHOR,
            "comment": comment + (f" (from {event.source})" if event.source else ""),
        }
        return self._request("/api/v2/silences", body)["silenceID"]

    def _valid_until(self) -> str:
        return rfc3339(time.time() + RESEND_VALIDITY * self.resend_interval)

    def _request(self, path: str, body: object = None) -> object:
        """GET (no body) or POST JSON to the API; the decoded answer. Any HTTP error raises."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, headers=self.headers,
                                         method="GET" if body is None else "POST")
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            answer = response.read()
        return json.loads(answer) if answer.strip() else None
