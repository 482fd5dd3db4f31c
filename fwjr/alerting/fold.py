"""Folding the alerting topics into state: the latest state of each alert from `fwjr.alerts`,
and the planned maintenance windows announced on `service.status`.

Pure: the caller reads the topic (fwjr.kafka.status.topic_values) and hands over the values.
"""

from __future__ import annotations

import msgspec

from fwjr.alerting.status import MAINTENANCE, StatusEvent, decode_status
from fwjr.topics import SERVICE_STATUS


def fold_alerts(values: list[bytes]) -> list[dict]:
    """The latest state of each alert from `fwjr.alerts` messages, newest fired first."""
    latest: dict[str, dict] = {}
    for value in values:
        message = msgspec.json.decode(value)
        alert = message["alert"]
        known = latest.get(alert["id"])
        if known is None or known["state"] != "resolved":
            latest[alert["id"]] = alert
    return sorted(latest.values(), key=lambda a: (-a["fired"], a["id"]))


def fold_maintenance(values: list[bytes], since: int) -> list[dict]:
    """Planned maintenance windows announced on `service.status` that end after `since`, each once
    (a feed re-announces its windows every poll), by start. Invalid events are skipped: the
    workers reject and count them."""
    found: dict[tuple, dict] = {}
    for value in values:
        event = decode_status(value, SERVICE_STATUS)
        if isinstance(event, StatusEvent) and event.state == MAINTENANCE and event.end > since:
            key = (event.service, event.start, event.end)
            found.setdefault(key, {"service": event.service, "start": event.start, "end": event.end,
                                   "message": event.message, "source": event.source, "announced": event.ts})
    return sorted(found.values(), key=lambda w: (w["start"], w["service"]))
