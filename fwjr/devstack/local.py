"""The local default stack: `fwjr up`, `fwjr down`, `fwjr status`.

Everything lives under FWJR_HOME: the Kafka broker's data, the embedded store, logs and
pid files, so two stacks with different homes and ports can run side by side.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from fwjr import topics
from fwjr.config import Settings
from fwjr.devstack.broker import DEFAULT_TOPICS, KafkaBroker, TopicSpec, ensure_kafka_jars, ensure_topics
from fwjr.devstack.processes import alive


@dataclass
class Component:
    name: str
    pid_file: Path
    log_file: Path

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if alive(pid) else None

    def start(self, argv: list[str], env: dict[str, str]) -> int:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        self.pid_file.write_text(str(proc.pid))
        return proc.pid

    def stop(self, timeout: float = 30.0) -> bool:
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while alive(pid):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                break
            time.sleep(0.2)
        self.pid_file.unlink(missing_ok=True)
        return True


def broker(settings: Settings) -> KafkaBroker:
    return KafkaBroker(
        settings.home / "kafka",
        broker_port=settings.kafka_port,
        controller_port=settings.kafka_controller_port,
        detach=True,
    )


def worker(settings: Settings) -> Component:
    return Component("worker", settings.home / "worker.pid", settings.log_dir / "worker.log")


def alerter(settings: Settings) -> Component:
    return Component("alerter", settings.home / "alerter.pid", settings.log_dir / "alerter.log")


def feeder(settings: Settings) -> Component:
    return Component("feeder", settings.home / "feeder.pid", settings.log_dir / "feeder.log")


def topic_specs(settings: Settings) -> dict[str, TopicSpec]:
    specs = dict(DEFAULT_TOPICS)
    raw = specs[topics.RAW]
    specs[topics.RAW] = TopicSpec(settings.raw_partitions, raw.retention_ms, raw.max_message_bytes)
    return specs


def _child_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env["FWJR_HOME"] = str(settings.home)
    env["FWJR_KAFKA_BOOTSTRAP"] = settings.bootstrap
    return env


def up(settings: Settings, feed_rate: float, timeout: float = 180.0) -> str:
    """Start broker, worker (store owner + board), the alerter and, with feed_rate > 0, a generator feed.

    Also leaves the replay token under home, which `fwjr replay` needs while the worker owns the store.

    Returns once the worker has joined the group and the board answers, and the alerter evaluates.
    """
    settings.home.mkdir(parents=True, exist_ok=True)
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    kafka = broker(settings)
    if not kafka.is_running():
        ensure_kafka_jars(settings.jar_cache)
        kafka.start()
    ensure_topics(kafka.bootstrap, topic_specs(settings))
    settings = settings.model_copy(update={"kafka_bootstrap": kafka.bootstrap})
    from fwjr.ops.replay_token import ensure_local

    ensure_local(settings)
    env = _child_env(settings)
    owner = worker(settings)
    ready = settings.home / "worker.ready"
    if owner.pid() is None:
        ready.unlink(missing_ok=True)
        owner.start([sys.executable, "-m", "fwjr", "worker"], env)
    _wait_ready(owner, ready, timeout)
    judge = alerter(settings)
    judged = settings.home / "alerter.ready"
    if judge.pid() is None:
        judged.unlink(missing_ok=True)
        judge.start([sys.executable, "-m", "fwjr", "alerter"], env)
    _wait_ready(judge, judged, timeout)
    feed = feeder(settings)
    if feed_rate > 0 and feed.pid() is None:
        feed.start([sys.executable, "-m", "fwjr", "produce", "--generate", "0", "--rate", str(feed_rate)], env)
    return f"http://{settings.dashboard_host}:{settings.dashboard_port}/"


def _wait_ready(owner: Component, ready: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not ready.exists():
        if owner.pid() is None:
            raise RuntimeError(f"the {owner.name} exited during start-up; see {owner.log_file}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"the {owner.name} did not become ready within {timeout:.0f} s; see {owner.log_file}")
        time.sleep(0.3)


def down(settings: Settings) -> list[str]:
    """Stop feed, worker, alerter, broker (in that order, so each flushes what it has)."""
    stopped = []
    for component in (feeder(settings), worker(settings), alerter(settings)):
        if component.stop():
            stopped.append(component.name)
    (settings.home / "worker.ready").unlink(missing_ok=True)
    (settings.home / "alerter.ready").unlink(missing_ok=True)
    kafka = broker(settings)
    if kafka.is_running():
        kafka.stop()
        stopped.append("kafka")
    return stopped


def status(settings: Settings) -> dict:
    """What runs, how far behind the worker is, and where the logs are."""
    from fwjr.kafka.publish import lag

    kafka = broker(settings)
    running = kafka.is_running()
    report: dict = {
        "home": str(settings.home),
        "kafka": {"running": running, "bootstrap": kafka.bootstrap if running else None, "log": str(kafka.log_file)},
        "worker": {"pid": worker(settings).pid(), "log": str(worker(settings).log_file)},
        "alerter": {"pid": alerter(settings).pid(), "log": str(alerter(settings).log_file)},
        "feeder": {"pid": feeder(settings).pid(), "log": str(feeder(settings).log_file)},
        "dashboard": f"http://{settings.dashboard_host}:{settings.dashboard_port}/",
    }
    if running:
        try:
            report["lag"] = lag(kafka.bootstrap)
        except Exception as exc:  # status must answer even when the broker is half up
            report["lag"] = f"unavailable: {exc}"
    return report
