"""compose.yaml parses and describes every service the docs name (no Docker engine here: syntax only)."""

from __future__ import annotations

import re

import yaml

from tests.paths import REPO


def test_compose_parses_and_names_every_documented_service() -> None:
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    services = compose["services"]
    documented = set(re.findall(r"^- `(\w+)`", (REPO / "docs" / "deployment.md").read_text(), re.M))
    assert documented == set(services)
    for name, service in services.items():
        assert "image" in service or "build" in service, name
    for name in ("worker", "dashboard", "migrate"):
        env = services[name]["environment"]
        assert env["FWJR_CLICKHOUSE_URL"].startswith("http://")
        assert env["FWJR_KAFKA_BOOTSTRAP"] == "kafka:9092"
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
