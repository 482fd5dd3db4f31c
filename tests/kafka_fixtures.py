"""pytest plugin: one real Apache Kafka broker for the whole test session.

Starting a broker costs several seconds, so every test shares one. Tests must therefore not
rely on a topic or consumer group being empty: take a fresh topic from `kafka_topic` and
give consumers unique group ids. Tests may stop/restart the broker (ports and data are kept),
but must leave it running.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fwjr.devstack.broker import (
    DAY_MS,
    KafkaBroker,
    TopicSpec,
    default_cache_dir,
    ensure_kafka_jars,
    ensure_topics,
    find_executable,
    kafka_jar_dir,
)


@pytest.fixture(scope="session")
def kafka_jars() -> Path:
    """The broker's jar folder, resolved by Maven on first use; skips when Java/Maven are absent."""
    if find_executable("java") is None:
        pytest.skip("java is not installed: the Kafka broker tests need Java 17+")
    cache_dir = default_cache_dir()
    if find_executable("mvn") is None and not (kafka_jar_dir(cache_dir) / ".complete").is_file():
        pytest.skip(f"mvn is not installed and no Kafka jars are cached in {cache_dir}")
    return ensure_kafka_jars(cache_dir)


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory, kafka_jars: Path) -> Iterator[KafkaBroker]:
    """A running single-node broker on free loopback ports, with the project's topics created."""
    broker = KafkaBroker(tmp_path_factory.mktemp("kafka"), kafka_jars, detach=False)
    broker.start()
    try:
        ensure_topics(broker.bootstrap)
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def kafka_topic(kafka_broker: KafkaBroker) -> Callable[..., str]:
    """Factory for fresh, uniquely named topics: `kafka_topic(partitions=2)` returns the name."""

    def create(partitions: int = 1, prefix: str = "test") -> str:
        name = f"{prefix}.{uuid.uuid4().hex[:12]}"
        ensure_topics(kafka_broker.bootstrap, {name: TopicSpec(partitions=partitions, retention_ms=DAY_MS)})
        return name

    return create
