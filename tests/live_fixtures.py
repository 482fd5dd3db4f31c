"""pytest plugin: a whole local stack (`fwjr up --detach`) under a temporary FWJR_HOME.

The live-path tests drive the product the way an operator does: through the `fwjr`
command, a real Kafka broker, a real worker process and the embedded store it owns.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from fwjr.devstack.broker import find_executable, free_port
from fwjr.devstack.processes import alive

FWJR = [sys.executable, "-m", "fwjr"]


@dataclass
class Stack:
    home: Path
    env: dict[str, str]

    def fwjr(self, *args: str, timeout: float = 600.0, check: bool = True) -> subprocess.CompletedProcess:
        """Run one `fwjr` command against this stack."""
        result = subprocess.run(FWJR + list(args), env=self.env, capture_output=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(
                f"fwjr {' '.join(args)} exited {result.returncode}\n"
                f"stderr:\n{result.stderr.decode()[-3000:]}\nworker log:\n{self.worker_log()[-3000:]}"
            )
        return result

    def worker_pid(self) -> int | None:
        try:
            pid = int((self.home / "worker.pid").read_text())
        except (FileNotFoundError, ValueError):
            return None
        return pid if alive(pid) else None

    def worker_log(self) -> str:
        path = self.home / "logs" / "worker.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def jsonl(self, *args: str) -> list[dict]:
        out = self.fwjr(*args).stdout
        return [orjson.loads(line) for line in out.splitlines() if line.strip()]


def stack_env(home: Path, **settings: str) -> dict[str, str]:
    """The environment of a local stack of its own: its FWJR_HOME, free ports, no outside broker or
    store from the caller's environment, and these extra settings."""
    env = dict(os.environ)
    env.update(
        FWJR_HOME=str(home),
        FWJR_KAFKA_PORT=str(free_port()),
        FWJR_KAFKA_CONTROLLER_PORT=str(free_port()),
        FWJR_DASHBOARD_PORT=str(free_port()),
        FWJR_METRICS_PORT=str(free_port()),
        FWJR_ALERTER_METRICS_PORT=str(free_port()),
    )
    for name in ("FWJR_KAFKA_BOOTSTRAP", "FWJR_CLICKHOUSE_URL", "FWJR_METRICS_HOST"):
        env.pop(name, None)
    env.update(settings)
    return env


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A running local stack (broker + worker + board) with no feed; stopped at the end."""
    if find_executable("java") is None:
        pytest.skip("java is not installed: the live stack needs Java 17+")
    home = tmp_path_factory.mktemp("fwjr-home")
    running = Stack(home, stack_env(home))
    running.fwjr("up", "--detach", "--feed-rate", "0", timeout=300)
    try:
        yield running
    finally:
        running.fwjr("down", check=False, timeout=120)
