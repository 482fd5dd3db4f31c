"""`fwjr replay` while the local stack runs: the worker owns the embedded store, the replay
hands its rows to it, and the store ends equal to the live path's and to `fwjr aggregate`.

One test (a stack and a Spark start-up are the expensive parts). Two generated sets go
through the live path: A (recent, inside the replayed range) and B (three days old, outside
it). Then a stray set S, absent from A's archive, goes through the live path into A's range,
so the store no longer matches the archive there. Replaying A's range must restore exactly
the live result of A and B: S's rows gone, B's rows untouched.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.live_fixtures import Stack

pytestmark = [pytest.mark.kafka, pytest.mark.spark]


def _day(days_from_today: int) -> str:
    today = datetime.now(timezone.utc).date()
    return (today + timedelta(days=days_from_today)).isoformat()


def test_replay_through_the_running_stack_equals_live_path_and_offline(stack: Stack, tmp_path: Path) -> None:
    recent, older, stray = tmp_path / "recent", tmp_path / "older", tmp_path / "stray"
    stack.fwjr("generate", "--count", "1500", "--seed", "31", "--format", "avro", "--out", str(recent), "--minutes", "60")
    stack.fwjr(
        "generate", "--count", "300", "--seed", "32", "--format", "avro", "--out", str(older),
        "--start", f"{_day(-3)}T06:00:00Z", "--minutes", "60",
    )
    stack.fwjr("produce", str(recent), str(older), "--wait")
    window = ("--from", _day(-4), "--to", _day(1), "--precision", "hour")
    expected = stack.jsonl("aggregate", str(recent), str(older), "--precision", "hour")
    live = stack.jsonl("query", "aggregates", *window)
    assert live == expected

    stack.fwjr("generate", "--count", "200", "--seed", "33", "--format", "avro", "--out", str(stray), "--minutes", "30")
    stack.fwjr("produce", str(stray), "--wait")
    damaged = stack.jsonl("query", "aggregates", *window)
    assert damaged == stack.jsonl("aggregate", str(recent), str(older), str(stray), "--precision", "hour") != expected

    replayed = stack.fwjr("replay", str(recent), "--from", "1", "--to", "-1", timeout=900)
    summary = replayed.stderr.decode()
    assert f"via http://127.0.0.1:{stack.env['FWJR_DASHBOARD_PORT']}" in summary, summary[-2000:]
    assert stack.worker_pid() is not None

    assert stack.jsonl("query", "aggregates", *window) == expected
