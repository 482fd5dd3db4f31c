"""compose.yaml parses and describes every service the docs name (no Docker engine here: syntax only),
wires Prometheus and Alertmanager to the shipped configs and the workers, and runs the ClickHouse
the tests run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from tests.fixtures.paths import REPO


def test_compose_parses_and_names_every_documented_service() -> None:
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    services = compose["services"]
    documented = set(re.findall(r"^- `(\w+)`", (REPO / "docs" / "deployment.md").read_text(), re.M))
    assert documented == set(services)
    for name, service in services.items():
        assert "image" in service or "build" in service, name
    for name in ("worker", "alerter", "dashboard", "migrate"):
        env = services[name]["environment"]
        assert env["FWJR_CLICKHOUSE_URL"].startswith("http://")
        assert env["FWJR_KAFKA_BOOTSTRAP"] == "kafka:9092"
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"


def _mounts(service: dict) -> dict[str, Path]:
    """Container path -> repository path of a service's bind mounts from the repository."""
    found = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("./"):
            found[target] = REPO / source
    return found


def test_prometheus_and_alertmanager_get_the_shipped_configs_and_reach_the_workers() -> None:
    services = yaml.safe_load((REPO / "compose.yaml").read_text())["services"]
    for name, flag in (("prometheus", "--config.file="), ("alertmanager", "--config.file=")):
        config = next(arg[len(flag):] for arg in services[name]["command"] if arg.startswith(flag))
        mounted = {target: source for target, source in _mounts(services[name]).items() if config.startswith(target + "/")}
        ((target, source),) = mounted.items()
        assert (source / config[len(target) + 1:]).is_file(), config

    prometheus = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    for service, job_name, setting in (("worker", "fwjr-worker", "FWJR_METRICS_PORT"), ("alerter", "fwjr-alerter", "FWJR_ALERTER_METRICS_PORT")):
        env = services[service]["environment"]
        port = env[setting]
        assert env["FWJR_METRICS_HOST"] == "0.0.0.0"
        assert port in services[service]["expose"]
        (job,) = [job for job in prometheus["scrape_configs"] if job["job_name"] == job_name]
        assert job["dns_sd_configs"] == [{"names": [service], "type": "A", "port": int(port), "refresh_interval": "30s"}]
    assert services["worker"]["deploy"]["replicas"] >= 2, "N ingest workers"
    assert services["alerter"]["deploy"]["replicas"] == 2, "one alerter evaluates, one stands by"

    alertmanager_port = services["alertmanager"]["ports"][0].split(":")[-1]
    (targets,) = [c["targets"] for am in prometheus["alerting"]["alertmanagers"] for c in am["static_configs"]]
    assert targets == [f"alertmanager:{alertmanager_port}"]
    alerter = services["alerter"]["environment"]
    assert json.loads(alerter["FWJR_ALERTMANAGER_URLS"]) == [f"http://alertmanager:{alertmanager_port}"]
    assert "FWJR_ALERTMANAGER_URLS" not in services["worker"]["environment"], "the workers do not alert"


def test_the_clickhouse_server_runs_the_embedded_engines_major_version() -> None:
    import chdb

    embedded = str(chdb.query("SELECT version()", "CSV")).strip().strip('"')
    image = yaml.safe_load((REPO / "compose.yaml").read_text())["services"]["clickhouse"]["image"]
    served = image.rsplit(":", 1)[1]
    assert served.split(".")[0] == embedded.split(".")[0], (image, embedded)
