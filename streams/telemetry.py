"""Prometheus metrics of the worker: what on-call looks at to see that ingestion is healthy."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import Counter, Gauge, Histogram


@dataclass(frozen=True)
class Telemetry:
    events: Counter = field(default_factory=lambda: Counter("fwjr_events", "Messages taken from fwjr.raw"))
    rejected: Counter = field(
        default_factory=lambda: Counter("fwjr_rejected", "Messages sent to fwjr.dlq, by reason", ["reason"])
    )
    duplicates: Counter = field(default_factory=lambda: Counter("fwjr_duplicates", "FWJRs already counted"))
    skipped: Counter = field(
        default_factory=lambda: Counter("fwjr_redelivered_skipped", "Messages already in the store (redelivery)")
    )
    store_errors: Counter = field(
        default_factory=lambda: Counter("fwjr_store_write_errors", "Failed store writes (retried)")
    )
    flush_seconds: Histogram = field(
        default_factory=lambda: Histogram("fwjr_flush_seconds", "Time to write one batch to the store")
    )
    lag: Gauge = field(default_factory=lambda: Gauge("fwjr_consumer_lag", "Messages behind the end of fwjr.raw"))
    last_event_ts: Gauge = field(
        default_factory=lambda: Gauge("fwjr_last_event_timestamp_seconds", "Newest FWJR event time counted")
    )


TELEMETRY = Telemetry()
