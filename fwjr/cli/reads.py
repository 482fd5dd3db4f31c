"""What the CLI reads from the store: directly, or from the process that owns it.

An embedded store is open in one process only. While `fwjr up` runs, the worker holds it; the
CLI then asks the board's JSON API (fwjr.store.client), or folds the `fwjr.alerts` and
`service.status` topics, which carry the same decisions and events the worker stored.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Mapping
from typing import Any

import msgspec

from fwjr.alerting.fold import fold_alerts, fold_maintenance
from fwjr.alerting.status import OutageBook, StatusEvent, decode_status
from fwjr.config import Settings
from fwjr.kafka.status import topic_values
from fwjr.store.client import direct_or_owner, owner_get, owner_rows
from fwjr.topics import ALERTS, SERVICE_STATUS


def read_aggregates(settings: Settings, start: int, end: int, precision: str) -> list[dict]:
    """Aggregate rows (the shared row contract) for [start, end) at `precision`."""
    from fwjr.store import reads

    return direct_or_owner(
        settings, lambda store: reads.aggregates(store, start, end, precision),
        lambda: owner_rows(settings, "aggregates", {"from": start, "to": end, "precision": precision, "format": "compact"}))


def read_error_rows(settings: Settings, start: int, end: int, precision: str) -> list[dict]:
    """Error rows (bucket, ERROR_KEYS, count) for [start, end) at `precision`."""
    from fwjr.store import error_reads

    return direct_or_owner(
        settings, lambda store: error_reads.error_rows(store, start, end, precision),
        lambda: owner_rows(settings, "error-rows", {"from": start, "to": end, "precision": precision}))


def read_alerts(settings: Settings, since: int) -> list[dict]:
    """Alerts firing now or fired since `since`, each in its latest state."""
    from fwjr.store import alerts as store_alerts

    def stored(store: Any) -> list[dict]:
        rows = store_alerts.alert_history(store, since)
        for row in rows:
            row["evidence"] = msgspec.json.decode(row["evidence"])
        return rows

    def folded() -> list[dict]:
        alerts = fold_alerts(topic_values(settings.bootstrap, ALERTS))
        return [a for a in alerts if a["resolved"] is None or a["fired"] >= since]

    return direct_or_owner(settings, stored, folded)


def read_outages(settings: Settings, start: int, end: int, service: str | None = None) -> list[dict]:
    """Outage windows overlapping [start, end), from the store or the status topic."""
    from fwjr.store import alerts as store_alerts

    def folded() -> list[dict]:
        book = OutageBook()
        for value in topic_values(settings.bootstrap, SERVICE_STATUS):
            event = decode_status(value, SERVICE_STATUS)
            if isinstance(event, StatusEvent):
                book.add(event)
        found = [o.as_dict(end) for o in book.overlapping(start, end)]
        return [o for o in found if service is None or o["service"] == service]

    return direct_or_owner(settings, lambda store: store_alerts.outage_windows(store, start, end, service), folded)


def read_maintenance(settings: Settings, since: int) -> list[dict]:
    """Maintenance windows ending after `since`, from the status topic (the store keeps no windows)."""
    return fold_maintenance(topic_values(settings.bootstrap, SERVICE_STATUS), since)


def read_correlation(settings: Settings, start: int, end: int, filters: dict[str, str]) -> dict:
    """The correlation report (fwjr.alerting.correlate) for [start, end) and exact-value scope filters."""
    from fwjr.alerting.correlate import correlate_store
    from fwjr.store import sql

    scope: dict[str, object] = {k: int(v) if k == "exit_code" else v for k, v in filters.items()}
    return direct_or_owner(
        settings,
        lambda store: {"from": start, "to": end, **correlate_store(store, start, end, int(time.time()), scope, sql.ladder(settings))},
        lambda: owner_get(settings, "correlation", {"from": start, "to": end, **filters}))


def read_job_services(settings: Settings, identity: str) -> list[dict] | None:
    """The outages during one stored job's run; None when the job is not stored."""
    from fwjr.alerting.correlate import services_for_job

    return direct_or_owner(
        settings, lambda store: services_for_job(store, identity),
        lambda: owner_get(settings, f"jobs/{urllib.parse.quote(identity, safe='')}/services", {}).get("services"))


FILTER_KEYS: tuple[str, ...] = ("workflow", "task", "site", "exit_code", "campaign", "jobtype")


def store_filters(given: Mapping[str, str]) -> dict[str, Any]:
    """CLI filter texts as fwjr.store.sql filters: `~pattern` is an re2 pattern, anything else exact."""
    filters: dict[str, Any] = {}
    for key, text in given.items():
        if key not in FILTER_KEYS:
            raise ValueError(f"triage filter {key!r}: expected one of {', '.join(FILTER_KEYS)}")
        if text.startswith("~"):
            filters[key] = {"regex": text[1:]}
        elif key == "exit_code":
            try:
                filters[key] = int(text)
            except ValueError:
                raise ValueError(f"--exit-code {text!r}: expected a whole number") from None
        else:
            filters[key] = text
    return filters


def read_triage(settings: Settings, start: int, end: int, given: Mapping[str, str]) -> list[dict[str, Any]]:
    """One decision (as a dict) per failing workflow the filters select in [start, end), each over
    all its jobs (fwjr.triage.select), most wasted core-hours first."""
    from fwjr.triage.select import triage_selected

    filters = store_filters(given)
    return direct_or_owner(
        settings, lambda store: [d.as_dict() for d in triage_selected(store, start, end, filters, settings=settings)],
        lambda: owner_get(settings, "triage", {"from": start, "to": end, **given})["workflows"])
