"""Latency of the executor's API over 10,000 recorded actions, beside the board's health check.

Serves the board (waitress, as `fwjr up` does) over an empty embedded store and an operational
database holding --actions actions of the last 30 days (one reason or two each; --pending-share
of them still pending, the rest acted), then, in interleaved rounds over one keep-alive
connection each, measures:
- GET /api/v1/health                   the baseline: the board's cheapest answer, same server, same run
- GET /api/v1/actions?days=30          the executor's poll: the pending actions (target p95 100 ms)
- GET /api/v1/actions?days=30&acted=-1 every action of the 30 days (the largest answer)
- POST /api/v1/actions                 one submission of one workflow (target p95 200 ms)
and prints p50/p95 of each and its p95 over the health check's.

    .venv/bin/python bench/bench_actions.py [--actions 10000] [--repeat 60] [--ops-url URL]

--ops-url points at another database (e.g. a PostgreSQL: postgresql+psycopg://user@host/db,
which must be empty); the default is SQLite under a temporary FWJR_HOME, the local default.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import requests
from sqlalchemy import insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboard.server import serve_in_thread  # noqa: E402
from fwjr.config import Settings  # noqa: E402
from fwjr.ops import accounts, tokens  # noqa: E402
from fwjr.ops.actions import ACTED, PENDING  # noqa: E402
from fwjr.ops.database import session  # noqa: E402
from fwjr.ops.migrate import upgrade  # noqa: E402
from fwjr.ops.models import Action, Reason, utcnow  # noqa: E402
from fwjr.store.connection import connect  # noqa: E402
from fwjr.store.migrate import migrate  # noqa: E402

TARGETS_MS = {"actions pending": 100, "actions all": 100, "submit": 200}
KINDS = (("kill", {}), ("more-memory", {"amount": 4000}), ("split", {"factor": 4}), ("sites", {"sites": ["T1_US_FNAL", "T2_CH_CERN"]}),
         ("acdc", {}), ("resubmit", {}))
CHUNK = 2000


def seed(url: str, count: int, pending_share: float, rng: random.Random) -> tuple[str, str]:
    """Record `count` actions; returns (executor token, operator token)."""
    upgrade(url)
    now = utcnow()
    with session(url) as opened:
        operator = accounts.create(opened, "bench-operator", role="operator")
        executor = accounts.create(opened, "bench-executor", role="operator")
        _, read = tokens.create(opened, executor, ["actions:read", "actions:report"])
        _, write = tokens.create(opened, operator, ["actions:write"])
        operator_id, executor_id = operator.id, executor.id
    for start in range(0, count, CHUNK):
        rows = []
        for i in range(start, min(start + CHUNK, count)):
            kind, parameters = KINDS[i % len(KINDS)]
            submitted = now - timedelta(seconds=rng.uniform(60, 29 * 86400))
            pending = rng.random() < pending_share
            rows.append({
                "workflow": f"pdmvserv_task_BENCH-{i:06d}__v1_T_250101_000000_{i % 9973:04d}", "action": kind, "parameters": parameters,
                "account_id": operator_id, "submitted": submitted, "state": PENDING if pending else ACTED,
                "acted": None if pending else submitted + timedelta(minutes=10), "acted_by": None if pending else executor_id,
            })
        with session(url) as opened:
            opened.execute(insert(Action), rows)
            ids = list(opened.scalars(select(Action.id).where(Action.workflow.in_([r["workflow"] for r in rows]))))
            reasons = [{"action_id": action_id, "position": 0, "short": "failure spike", "long": "8021 at T2 sites since the morning"}
                       for action_id in ids]
            reasons += [{"action_id": action_id, "position": 1, "short": "ticket", "long": "GGUS 123456"} for action_id in ids[::3]]
            opened.execute(insert(Reason), reasons)
    return read, write


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--actions", type=int, default=10_000)
    parser.add_argument("--pending-share", type=float, default=0.1)
    parser.add_argument("--repeat", type=int, default=60)
    parser.add_argument("--ops-url", default=None)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="fwjr-bench-actions-"))
    rng = random.Random(7)
    try:
        settings = Settings(home=home, ops_database_url=args.ops_url)
        started = time.perf_counter()
        read, write = seed(settings.ops_url, args.actions, args.pending_share, rng)
        print(f"recorded {args.actions} actions in {time.perf_counter() - started:.1f} s ({settings.ops_url.split('://')[0]})")
        store = connect(path=home / "store")
        migrate(store)
        server = serve_in_thread(settings, store, port=0)
        base = server.url.rstrip("/")
        reader = requests.Session()
        reader.headers["Authorization"] = f"Bearer {read}"
        writer = requests.Session()
        writer.headers["Authorization"] = f"Bearer {write}"
        calls = {
            "health": lambda: reader.get(base + "/api/v1/health", timeout=60),
            "actions pending": lambda: reader.get(base + "/api/v1/actions", params={"days": 30}, timeout=60),
            "actions all": lambda: reader.get(base + "/api/v1/actions", params={"days": 30, "acted": -1}, timeout=60),
        }
        submitted = iter(range(10**9))

        def submit() -> requests.Response:
            body = {"workflows": [f"bench_submit_{next(submitted)}"], "action": "more-memory", "parameters": {"amount": 3000},
                    "reasons": [{"short": "oom", "long": "exit code 50660"}]}
            return writer.post(base + "/api/v1/actions", json=body, timeout=60)

        calls["submit"] = submit
        sizes = {}
        for name, call in calls.items():  # warm-up, and the answers' sizes
            response = call()
            assert response.ok, (name, response.status_code, response.text[:300])
            sizes[name] = len(response.content)
        times: dict[str, list[float]] = {name: [] for name in calls}
        for _ in range(args.repeat):
            for name in rng.sample(list(calls), len(calls)):
                began = time.perf_counter()
                response = calls[name]()
                times[name].append((time.perf_counter() - began) * 1000)
                assert response.ok, (name, response.status_code)
        server.close()
        store.close()
    finally:
        shutil.rmtree(home, ignore_errors=True)

    baseline = p95(times["health"])
    print(f"{'request':<18}{'answer':>10}{'p50 ms':>9}{'p95 ms':>9}{'p95/health':>12}{'target':>9}")
    for name, values in times.items():
        target = TARGETS_MS.get(name)
        verdict = "" if target is None else f"{target} {'ok' if p95(values) <= target else 'MISSED'}"
        print(f"{name:<18}{sizes[name]:>9}B{statistics.median(values):>9.1f}{p95(values):>9.1f}{p95(values) / baseline:>12.2f}{verdict:>9}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
