"""The one producer configuration: every process that writes to Kafka builds its producer here.

Every producer is idempotent (a retried send is never written twice) and compresses with lz4.
Two profiles differ only in how long a send waits to fill a batch: `bulk` (FWJRs to fwjr.raw,
job records to fwjr.jobs: throughput for 1-25 KB messages) and `prompt` (status events, alert
decisions, dead letters: few messages that someone waits for).
"""

from __future__ import annotations

from typing import Any, Literal

from confluent_kafka import Producer

MESSAGE_MAX_BYTES = 2_000_000
_BASE: dict[str, Any] = {"enable.idempotence": True, "compression.type": "lz4", "message.max.bytes": MESSAGE_MAX_BYTES}
_PROFILES: dict[str, dict[str, Any]] = {
    "bulk": {"linger.ms": 20, "batch.size": 1_000_000},
    "prompt": {"linger.ms": 5},
}


def producer_config(bootstrap: str, profile: Literal["bulk", "prompt"] = "bulk", **extra: Any) -> dict[str, Any]:
    """The configuration of a producer for `bootstrap`; `extra` adds role settings (a transactional
    id, a larger message limit), given with dots as underscores (transactional_id=...)."""
    return {"bootstrap.servers": bootstrap, **_BASE, **_PROFILES[profile], **{k.replace("_", "."): v for k, v in extra.items()}}


def make_producer(bootstrap: str, profile: Literal["bulk", "prompt"] = "bulk", **extra: Any) -> Producer:
    """A producer with the project's configuration (see producer_config)."""
    return Producer(producer_config(bootstrap, profile, **extra))
