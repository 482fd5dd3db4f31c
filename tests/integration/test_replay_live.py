"""`fwjr replay` while the local stack runs: the worker owns the embedded store, the replay
hands its rows to it, and the store ends equal to the live path's and to `fwjr aggregate`,
aggregate rows and step error rows alike.

One test (a stack and a Spark start-up are the expensive parts). Two generated sets go
through the live path: A (recent, inside the replayed range), as JSON lines, so the agent's
CouchDB envelopes, pseudo-steps and failed jobs without an error reach the worker in the
agent's form; and B (three days old, outside the range). A's Avro archive, generated from the
same seed, is what the replay reads: the archive's form of the same reports. Then a stray set
S, absent from A's archive, goes through the live path into A's range, so the store no longer
matches the archive there. Replaying A's range must restore exactly the live result of A and
B: S's rows gone, B's rows untouched.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.fixtures.live import Stack

pytestmark = [pytest.mark.kafka, pytest.mark.spark]


def _day(days_from_today: int) -> str:
    today = datetime.now(timezone.utc).date()
    return (today + timedelta(days=days_from_today)).isoformat()


def _minutes_ago(minutes: int) -> str:
    return (datetime.now(timezone.utc) - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:00Z")


def test_replay_through_the_running_stack_equals_live_path_and_offline(stack: Stack, tmp_path: Path) -> None:
    recent_json, recent, older, stray = tmp_path / "recent-json", tmp_path / "recent", tmp_path / "older", tmp_path / "stray"
    start = _minutes_ago(70)
    for fmt, out in (("jsonl", recent_json), ("avro", recent)):
        stack.fwjr("generate", "--count", "1500", "--seed", "31", "--format", fmt, "--out", str(out), "--minutes", "60", "--start", start)
    stack.fwjr(
        "generate", "--count", "300", "--seed", "32", "--format", "avro", "--out", str(older),
        "--start", f"{_day(-3)}T06:00:00Z", "--minutes", "60",
    )
    assert b'"_rev"' in b"".join(p.read_bytes() for p in recent_json.rglob("*.jsonl")), "A holds agent envelopes"
    stack.fwjr("produce", str(recent_json), str(older), "--wait")
    window = ("--from", _day(-4), "--to", _day(1), "--precision", "hour")
    expected = stack.jsonl("aggregate", str(recent), str(older), "--precision", "hour")
    expected_errors = stack.jsonl("aggregate", str(recent), str(older), "--precision", "hour", "--rows", "errors")
    assert stack.jsonl("aggregate", str(recent_json), str(older), "--precision", "hour") == expected, "both forms hold the same jobs"
    assert stack.jsonl("query", "aggregates", *window) == expected
    assert stack.jsonl("query", "errors", *window) == expected_errors
    assert sum(row["count"] for row in expected_errors) > 0

    stack.fwjr("generate", "--count", "200", "--seed", "33", "--format", "avro", "--out", str(stray), "--minutes", "30")
    stack.fwjr("produce", str(stray), "--wait")
    damaged = stack.jsonl("query", "aggregates", *window)
    assert damaged == stack.jsonl("aggregate", str(recent), str(older), str(stray), "--precision", "hour") != expected
    assert stack.jsonl("query", "errors", *window) != expected_errors

    replayed = stack.fwjr("replay", str(recent), "--from", "1", "--to", "-1", timeout=900)
    summary = replayed.stderr.decode()
    assert f"via http://127.0.0.1:{stack.env['FWJR_DASHBOARD_PORT']}" in summary, summary[-2000:]
    assert stack.worker_pid() is not None

    assert stack.jsonl("query", "aggregates", *window) == expected
    assert stack.jsonl("query", "errors", *window) == expected_errors
