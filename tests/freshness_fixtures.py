"""A board over a store of its own, in a child process, where the test seeds FWJRs of chosen ages.

The freshness level depends on the age of the newest FWJR in the whole store, so it needs a
store of its own; one process holds one embedded store at a time, and the API tests' process
already holds the module's seeded one. The child serves the board on a free port first and
seeds on request afterwards, each FWJR `age` seconds before the child's own clock at that
moment, so nothing slow (imports, start-up) lies between a seed and the answer that reads it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import msgspec

from tests.paths import REPO


class AgedBoard:
    """The child process: its board's URL, and `seed(age)` to add a newest FWJR of that age."""

    def __init__(self, home: Path) -> None:
        self.child = subprocess.Popen(
            [sys.executable, "-c", "import sys; from tests.freshness_fixtures import serve; serve(sys.argv[1])", str(home)],
            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        self.url = self._answer()["url"].rstrip("/")

    def seed(self, age: int) -> int:
        """Seed generated jobs older than `age` s and one job exactly `age` s old; its epoch second."""
        self.child.stdin.write(f"{age}\n")
        self.child.stdin.flush()
        return self._answer()["newest"]

    def _answer(self) -> dict:
        line = self.child.stdout.readline()
        assert line, f"the board process ended (exit {self.child.wait()})"
        return json.loads(line)

    def close(self) -> None:
        self.child.stdin.close()
        self.child.wait(timeout=60)


def serve(home: str) -> None:
    """The child's side: serve an empty store, then seed one age per line of stdin until it closes."""
    from dashboard.server import serve_in_thread
    from fwjr.config import Settings
    from fwjr.store.connection import connect
    from fwjr.store.migrate import migrate
    from tests.browser_fixtures import generated_jobs, seed

    settings = Settings(home=Path(home), dashboard_port=0)
    store = connect(settings)
    migrate(store)
    server = serve_in_thread(settings, store, port=0)
    print(json.dumps({"url": server.url}), flush=True)
    for number, line in enumerate(sys.stdin):
        newest = int(time.time()) - int(line)
        older = generated_jobs(100, seed=number, start_ts=newest - 3600, minutes=50)
        newest_job = msgspec.structs.replace(older[-1], identity=f"freshness-{number}", ts=newest)
        seed(store, [*older, newest_job], batch=f"freshness-{number}")
        print(json.dumps({"newest": newest}), flush=True)
    server.close()
    store.close()
