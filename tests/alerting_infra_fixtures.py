"""Real on-call infrastructure for tests: Alertmanager and Prometheus from Debian's packages
(scripts/setup.sh installs them), started on free loopback ports with the shipped configs
adapted to the test, the way tests/kafka_fixtures.py starts the broker.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from fwjr.devstack.broker import free_port
from tests.alert_receivers_fixtures import Webhook, serve_webhook
from tests.paths import REPO
from tests.waiting import wait_until

DEPLOY = REPO / "deploy"
ALERTMANAGER_CONFIG = DEPLOY / "alertmanager" / "alertmanager.yml"
PROMETHEUS_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
RULES = DEPLOY / "prometheus" / "rules" / "fwjr.yml"


def tool(*names: str) -> str:
    """The first of `names` on PATH; skips (a failure unless skips are allowed) when none is."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(f"{' / '.join(names)} not installed (apt-get install prometheus prometheus-alertmanager)")


def get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def _ready(url: str, headers: dict[str, str] | None = None) -> bool:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@contextmanager
def _running(command: list[str], ready_url: str, log: Path, headers: dict[str, str] | None = None) -> Iterator[subprocess.Popen]:
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        def up() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"{command[0]} exited {process.returncode}:\n{log.read_text()[-3000:]}")
            return _ready(ready_url, headers)

        wait_until(up, 60, f"{Path(command[0]).name} to be ready")
        yield process
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Alertmanager:
    url: str
    webhook: Webhook

    def alerts(self) -> list[dict]:
        """Every alert Alertmanager holds, silenced and inhibited ones included."""
        return get_json(f"{self.url}/api/v2/alerts?silenced=true&inhibited=true&active=true&unprocessed=true")

    def silences(self) -> list[dict]:
        return get_json(f"{self.url}/api/v2/silences")

    def flushed(self) -> bool:
        """Whether every aggregation group Alertmanager still runs holds an active alert.

        A group whose alerts have all resolved is deleted only after its last flush (notified, or
        muted by a silence) and the dispatcher's next maintenance pass (every 30 s), so once this
        holds, nothing more can be sent for an alert that resolved before: the condition to wait
        on before asserting that a notification did not come.
        """
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=10) as response:
            metrics = response.read().decode()
        (running,) = [float(line.split()[1]) for line in metrics.splitlines()
                      if line.startswith("alertmanager_dispatcher_aggregation_groups ")]
        listed = get_json(f"{self.url}/api/v2/alerts/groups?silenced=true&inhibited=true&active=true")
        return running == len(listed)


def _fast(route: dict) -> None:
    """The shipped route tree with test timings: notify within a second, repeat rarely."""
    route.update(group_wait="500ms", group_interval="1s", repeat_interval="1h")
    for child in route.get("routes", []):
        for key in ("group_wait", "group_interval", "repeat_interval"):
            child.pop(key, None)
        _fast(child)


def alertmanager_config(webhook_url: str) -> dict:
    """The shipped Alertmanager config, its receivers replaced by one webhook and its timings made fast."""
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    names = [receiver["name"] for receiver in config["receivers"]]
    config["receivers"] = [{"name": name, "webhook_configs": [{"url": webhook_url, "send_resolved": True}]} for name in names]
    config.pop("global", None)
    _fast(config["route"])
    return config


@contextmanager
def run_alertmanager(workdir: Path, credentials: tuple[str, str] | None = None) -> Iterator[Alertmanager]:
    """A real Alertmanager with the shipped routing, notifying a real webhook server, for the block.

    With `credentials`, its API asks for them (basic auth, `--web.config.file`).
    """
    binary = tool("prometheus-alertmanager", "alertmanager")
    with serve_webhook() as hook:
        config = workdir / "alertmanager.yml"
        config.write_text(yaml.safe_dump(alertmanager_config(hook.url)))
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        command = [binary, f"--config.file={config}", f"--storage.path={workdir / 'am-data'}",
                   f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="]
        headers = None
        if credentials is not None:
            import base64

            import bcrypt

            user, password = credentials
            web = workdir / "web.yml"
            hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
            web.write_text(yaml.safe_dump({"basic_auth_users": {user: hashed}}))
            command.append(f"--web.config.file={web}")
            headers = {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}
        with _running(command, f"{url}/-/ready", workdir / "alertmanager.log", headers):
            yield Alertmanager(url, hook)


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[Alertmanager]:
    with run_alertmanager(tmp_path) as running:
        yield running


@dataclass
class Prometheus:
    url: str

    def query(self, expr: str) -> list[dict]:
        answer = get_json(f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}")
        assert answer["status"] == "success", answer
        return answer["data"]["result"]


def prometheus_config(worker_targets: list[str], alerter_targets: list[str] = (), scrape_interval: str = "1s") -> dict:
    """The shipped Prometheus config scraping `worker_targets` and `alerter_targets` instead of
    discovering them, with the shipped rules by absolute path and no Alertmanager."""
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    config["global"].update(scrape_interval=scrape_interval, evaluation_interval=scrape_interval)
    config["rule_files"] = [str(RULES)]
    config.pop("alerting", None)
    targets = {"fwjr-worker": list(worker_targets), "fwjr-alerter": list(alerter_targets)}
    jobs = [job for job in config["scrape_configs"] if targets.get(job["job_name"])]
    for job in jobs:
        for key in [k for k in job if k.endswith("_sd_configs")]:
            del job[key]
        job["static_configs"] = [{"targets": targets[job["job_name"]]}]
    config["scrape_configs"] = jobs
    return config


@contextmanager
def run_prometheus(config: dict, workdir: Path) -> Iterator[Prometheus]:
    """A real Prometheus with `config`, for the duration of the block."""
    binary = tool("prometheus")
    path = workdir / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [binary, f"--config.file={path}", f"--storage.tsdb.path={workdir / 'tsdb'}",
               f"--web.listen-address=127.0.0.1:{port}"]
    with _running(command, f"{url}/-/ready", workdir / "prometheus.log"):
        yield Prometheus(url)
