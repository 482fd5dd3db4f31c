"""Every producer of the project comes from one configuration (fwjr/kafka/producer.py)."""

from __future__ import annotations

import pytest

from fwjr.kafka.producer import MESSAGE_MAX_BYTES, producer_config


def test_both_profiles_are_idempotent_and_compressed_and_differ_only_in_batching() -> None:
    bulk, prompt = producer_config("h:1", "bulk"), producer_config("h:1", "prompt")
    for config in (bulk, prompt):
        assert config["bootstrap.servers"] == "h:1"
        assert config["enable.idempotence"] is True and config["compression.type"] == "lz4"
        assert config["message.max.bytes"] == MESSAGE_MAX_BYTES
    assert bulk["linger.ms"] > prompt["linger.ms"]
    assert {k for k in bulk if bulk[k] != prompt.get(k)} == {"linger.ms", "batch.size"}


def test_role_settings_are_added_with_their_librdkafka_names() -> None:
    config = producer_config("h:1", "prompt", transactional_id="fwjr-alerter", message_max_bytes=17_000_000)
    assert config["transactional.id"] == "fwjr-alerter"
    assert config["message.max.bytes"] == 17_000_000


def test_an_unknown_profile_is_refused() -> None:
    with pytest.raises(KeyError):
        producer_config("h:1", "fast")  # type: ignore[arg-type]
