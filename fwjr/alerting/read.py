"""Alerts and outages for the CLI: from the store, or from the topics while the stack owns the store.

An embedded store is open in one process only. While the local stack runs, the worker
holds it; the CLI then folds the `fwjr.alerts` and `service.status` topics, which carry
the same decisions and events the worker stored.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import msgspec
from confluent_kafka import Consumer, KafkaError, TopicPartition

from fwjr.alerting.status import MAINTENANCE, OutageBook, StatusEvent, decode_status
from fwjr.config import Settings
from fwjr.store import StoreBusyError, connect
from streams.topics import ALERTS, SERVICE_STATUS



def topic_values(bootstrap: str, topic: str, timeout: float = 10.0) -> list[bytes]:
    """Every committed message value in `topic` up to its current end, oldest first per partition.

    The end is the broker's end-of-partition event, not the high watermark: a topic written in
    transactions (fwjr.alerts) ends with a commit marker, which is no message.
    """
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"fwjr-cli-{uuid.uuid4().hex}", "enable.auto.commit": False,
                         "isolation.level": "read_committed", "enable.partition.eof": True})
    try:
        partitions = consumer.list_topics(topic, timeout=timeout).topics[topic].partitions
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout) for p in partitions}
        wanted = {p for p, (lo, hi) in ends.items() if hi > lo}
        consumer.assign([TopicPartition(topic, p, ends[p][0]) for p in wanted])
        values: list[bytes] = []
        while wanted:
            message = consumer.poll(timeout)
            if message is None:
                raise TimeoutError(f"{topic}: no message within {timeout:.0f} s while reading to its end")
            if message.error() is not None:
                if message.error().code() == KafkaError._PARTITION_EOF:
                    wanted.discard(message.partition())
                continue
            values.append(message.value() or b"")
        return values
    finally:
        consumer.close()


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


def read_alerts(settings: Settings, since: int) -> list[dict]:
    """Alerts firing now or fired since `since`, each in its latest state."""
    from fwjr import query

    try:
        store = connect(settings)
    except StoreBusyError:
        alerts = fold_alerts(topic_values(settings.bootstrap, ALERTS))
        return [a for a in alerts if a["resolved"] is None or a["fired"] >= since]
    with store:
        rows = query.alert_history(store, since)
    for row in rows:
        row["evidence"] = msgspec.json.decode(row["evidence"])
    return rows


def read_outages(settings: Settings, start: int, end: int, service: str | None = None) -> list[dict]:
    """Outage windows overlapping [start, end), from the store or the status topic."""
    from fwjr import query

    try:
        store = connect(settings)
    except StoreBusyError:
        book = OutageBook()
        for value in topic_values(settings.bootstrap, SERVICE_STATUS):
            event = decode_status(value, SERVICE_STATUS)
            if isinstance(event, StatusEvent):
                book.add(event)
        found = [o.as_dict(end) for o in book.overlapping(start, end)]
        return [o for o in found if service is None or o["service"] == service]
    with store:
        return query.outage_windows(store, start, end, service)


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


def read_maintenance(settings: Settings, since: int) -> list[dict]:
    """Maintenance windows ending after `since`, from the status topic (the store keeps no windows)."""
    return fold_maintenance(topic_values(settings.bootstrap, SERVICE_STATUS), since)


def _api_get(settings: Settings, path: str, params: dict[str, object]) -> dict:
    """GET the running stack's JSON API (dashboard/alerts_api.py); its error text when it refuses."""
    query_text = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
    url = f"http://{settings.dashboard_host}:{settings.dashboard_port}/api/v1/{path}?{query_text}"
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return json.loads(error.read())
        raise RuntimeError(f"{url}: HTTP {error.code}: {error.read().decode(errors='replace')[:500]}") from None


def read_correlation(settings: Settings, start: int, end: int, filters: dict[str, str]) -> dict:
    """The correlation report (fwjr.alerting.correlate) for [start, end) and exact-value scope filters."""
    from fwjr.alerting.correlate import correlate_store

    try:
        store = connect(settings)
    except StoreBusyError:
        return _api_get(settings, "correlation", {"from": start, "to": end, **filters})
    from fwjr import query

    scope: dict[str, object] = {k: int(v) if k == "exit_code" else v for k, v in filters.items()}
    now = int(time.time())
    with store:
        return {"from": start, "to": end, **correlate_store(store, start, end, now, scope, query.ladder(settings))}


def read_job_services(settings: Settings, identity: str) -> list[dict] | None:
    """The outages during one stored job's run; None when the job is not stored."""
    from fwjr.alerting.correlate import services_for_job

    try:
        store = connect(settings)
    except StoreBusyError:
        answer = _api_get(settings, f"jobs/{urllib.parse.quote(identity, safe='')}/services", {})
        return answer.get("services")
    with store:
        return services_for_job(store, identity)
