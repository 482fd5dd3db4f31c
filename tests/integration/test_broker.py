"""The local broker behaves like the real Kafka it is: topics, produce/consume, restart, stop."""

from __future__ import annotations

import base64
import socket
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, ConfigResource

from fwjr.devstack.broker import (
    DEFAULT_TOPICS,
    BrokerAlreadyRunning,
    BrokerError,
    KafkaBroker,
    ensure_topics,
    new_cluster_id,
)

pytestmark = pytest.mark.kafka

GIVE_UP_S = 30.0


def test_cluster_ids_never_read_as_an_option() -> None:
    """Without the redraw, one id in 64 starts with "-" and kafka-storage format refuses it."""
    ids = [new_cluster_id() for _ in range(2000)]
    assert not [cluster_id for cluster_id in ids if cluster_id.startswith("-")]
    assert {len(base64.urlsafe_b64decode(cluster_id + "==")) for cluster_id in ids} == {16}


def produce(bootstrap: str, topic: str, values: list[str]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for value in values:
        producer.produce(topic, key=value.encode(), value=value.encode())
    assert producer.flush(GIVE_UP_S) == 0


def consumer(bootstrap: str, topic: str, group: str) -> Consumer:
    c = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    c.subscribe([topic])
    return c


def take(c: Consumer, count: int) -> list[str]:
    """Poll one message at a time so that the stored offsets cover exactly what was returned."""
    got: list[str] = []
    for _ in range(int(GIVE_UP_S / 0.5)):
        if len(got) == count:
            break
        msg = c.poll(0.5)
        if msg is not None:
            assert msg.error() is None, msg.error()
            got.append(msg.value().decode())
    return got


def java_processes_using(state_dir: Path) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if str(state_dir).encode() in (proc / "cmdline").read_bytes():
                    pids.append(int(proc.name))
            except OSError:
                continue
    return pids


def test_default_topics_exist_with_their_partitions_and_retention(kafka_broker: KafkaBroker) -> None:
    ensure_topics(kafka_broker.bootstrap)  # a second call must be a no-op
    admin = AdminClient({"bootstrap.servers": kafka_broker.bootstrap})
    topics = admin.list_topics(timeout=GIVE_UP_S).topics
    resources = [ConfigResource(ConfigResource.Type.TOPIC, name) for name in DEFAULT_TOPICS]
    configs = {r.name: f.result() for r, f in admin.describe_configs(resources).items()}
    for name, spec in DEFAULT_TOPICS.items():
        assert len(topics[name].partitions) == spec.partitions, name
        assert configs[name]["retention.ms"].value == str(spec.retention_ms), name


def test_messages_and_committed_offsets_survive_a_restart(
    kafka_broker: KafkaBroker, kafka_topic: Callable[..., str]
) -> None:
    topic = kafka_topic(partitions=2)
    group = f"g-{uuid.uuid4().hex}"
    sent = [f"m{i}" for i in range(20)]
    produce(kafka_broker.bootstrap, topic, sent)

    first = consumer(kafka_broker.bootstrap, topic, group)
    before = take(first, 8)
    first.commit(asynchronous=False)
    first.close()

    kafka_broker.restart()

    resumed = consumer(kafka_broker.bootstrap, topic, group)
    after = take(resumed, 12)
    assert resumed.poll(1.0) is None
    resumed.close()
    assert len(before) == 8 and len(after) == 12
    assert sorted(before + after) == sorted(sent)

    fresh = consumer(kafka_broker.bootstrap, topic, f"g-{uuid.uuid4().hex}")
    assert sorted(take(fresh, 20)) == sorted(sent)
    fresh.close()


def test_second_start_on_the_same_state_dir_is_refused(kafka_broker: KafkaBroker, kafka_jars: Path) -> None:
    other = KafkaBroker(kafka_broker.state_dir, kafka_jars)
    assert other.is_running() and other.bootstrap == kafka_broker.bootstrap
    with pytest.raises(BrokerAlreadyRunning, match=str(kafka_broker.state_dir)):
        other.start()
    assert kafka_broker.is_running()


def test_stop_leaves_no_java_process(kafka_broker: KafkaBroker) -> None:
    pid = kafka_broker.pid
    assert pid is not None
    kafka_broker.stop()
    try:
        assert not kafka_broker.is_running()
        assert java_processes_using(kafka_broker.state_dir) == []
        assert not kafka_broker.pid_file.exists()
    finally:
        kafka_broker.start()
    assert kafka_broker.pid not in (None, pid)


def test_taken_port_is_reported_before_launching(tmp_path: Path, kafka_jars: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        broker = KafkaBroker(tmp_path, kafka_jars, broker_port=port)
        with pytest.raises(BrokerError, match=f"broker port {port}"):
            broker.start()
    assert not broker.is_running()


def test_broker_dying_at_start_names_its_log(tmp_path: Path, kafka_jars: Path) -> None:
    broker = KafkaBroker(tmp_path, kafka_jars, heap_mb=1)  # the JVM refuses a 1 MB heap
    with pytest.raises(BrokerError, match=str(broker.log_file)):
        broker.start()
    assert not broker.is_running()
