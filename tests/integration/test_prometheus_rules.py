"""The shipped Prometheus and Alertmanager configs: promtool and amtool accept them, the rules'
unit tests pass (tests/fixtures/prometheus/), and a real Prometheus with the shipped scrape config scrapes
a real worker, finds every metric the rules use, and evaluates every rule without error."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from fwjr.devstack.broker import find_executable
from tests.fixtures.alerting_infra import (
    ALERTMANAGER_CONFIG,
    PROMETHEUS_CONFIG,
    RULES,
    get_json,
    prometheus_config,
    run_alertmanager,
    run_prometheus,
    tool,
)
from tests.fixtures.live import Stack, stack_env
from tests.fixtures.paths import REPO
from tests.fixtures.waiting import wait_until

RULE_TESTS = REPO / "tests" / "fixtures" / "prometheus" / "fwjr_rules_test.yml"


def _run(*command: str) -> str:
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{' '.join(command)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def _rule_metrics() -> set[str]:
    """Every fwjr_* metric name the shipped rules' expressions use."""
    rules = yaml.safe_load(RULES.read_text())
    return {name for group in rules["groups"] for rule in group["rules"] for name in re.findall(r"\bfwjr_[a-z_]+\b", rule["expr"])}


def test_promtool_and_amtool_accept_the_shipped_configs() -> None:
    promtool = tool("promtool")
    assert "SUCCESS" in _run(promtool, "check", "config", str(PROMETHEUS_CONFIG))
    assert "SUCCESS: 10 rules found" in _run(promtool, "check", "rules", str(RULES))
    assert "SUCCESS" in _run(tool("amtool"), "check-config", str(ALERTMANAGER_CONFIG))


def test_rule_unit_tests_pass() -> None:
    """Among them: a feed that stops fires FWJRFeedStalled 15 minutes after its last FWJR, not before."""
    assert "SUCCESS" in _run(tool("promtool"), "test", "rules", str(RULE_TESTS))


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A local stack (broker, worker) whose worker has an Alertmanager receiver, fed a generated set
    with duplicates and rejects, so every series the rules use is exported."""
    if find_executable("java") is None:
        pytest.skip("java is not installed: the live stack needs Java 17+")
    tool("prometheus")
    with run_alertmanager(tmp_path_factory.mktemp("alertmanager")) as alertmanager:
        home = tmp_path_factory.mktemp("fwjr-home")
        running = Stack(home, stack_env(home, FWJR_ALERTMANAGER_URLS=f'["{alertmanager.url}"]'))
        running.fwjr("up", "--detach", "--feed-rate", "0", timeout=300)
        try:
            feed = home / "feed"
            running.fwjr("generate", "--count", "600", "--seed", "5", "--format", "jsonl", "--out", str(feed), "--minutes", "30")
            running.fwjr("produce", str(feed), "--wait")
            yield running
        finally:
            running.fwjr("down", check=False, timeout=120)


def test_prometheus_scrapes_the_worker_and_evaluates_every_rule(worker: Stack, tmp_path: Path) -> None:
    target = f"127.0.0.1:{worker.env['FWJR_METRICS_PORT']}"
    alerter = f"127.0.0.1:{worker.env['FWJR_ALERTER_METRICS_PORT']}"
    with run_prometheus(prometheus_config([target], [alerter]), tmp_path) as prometheus:
        def scraped() -> bool:
            return [r["value"][1] for r in prometheus.query('up{job=~"fwjr-worker|fwjr-alerter"}')] == ["1", "1"]

        wait_until(scraped, 60, "Prometheus to scrape the worker")
        missing: set[str] = set()

        def every_metric() -> bool:
            found = set(get_json(f"{prometheus.url}/api/v1/label/__name__/values")["data"])
            missing.clear()
            missing.update(_rule_metrics() - found)
            return not missing

        wait_until(every_metric, 60, f"the rules' metrics in the scrape (missing {missing})")
        assert prometheus.query(f'fwjr_events_total{{instance="{target}"}} > 0')
        assert prometheus.query('fwjr_rejected_total{job="fwjr-worker"} > 0')
        assert prometheus.query('fwjr_alert_deliveries_total{job="fwjr-alerter", ok="false"} == 0')
        assert prometheus.query(f'fwjr_alerter_active{{instance="{alerter}"}} == 1')

        def evaluated() -> list[dict]:
            groups = get_json(f"{prometheus.url}/api/v1/rules")["data"]["groups"]
            return [rule for group in groups for rule in group["rules"]]

        wait_until(lambda: all(rule["lastEvaluation"] > "2000" for rule in evaluated()), 60, "every rule to be evaluated")
        rules = evaluated()
        assert {rule["name"] for rule in rules} == {rule["alert"] for rule in yaml.safe_load(RULES.read_text())["groups"][0]["rules"]}
        assert [(rule["name"], rule["health"], rule.get("lastError", "")) for rule in rules if rule["health"] != "ok"] == []
        firing = {rule["name"] for rule in rules if rule["state"] == "firing"}
        assert firing.isdisjoint({"FWJRWorkerDown", "FWJRWorkersAbsent", "FWJRStoreWriteErrors"}), firing
