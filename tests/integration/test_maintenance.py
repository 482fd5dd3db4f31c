"""Planned maintenance: `fwjr maintenance add` announces a window on service.status (validated
first), `fwjr maintenance list` folds the topic into the windows, each once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

import pytest

from fwjr.alerting.fold import fold_maintenance
from fwjr.bucket import iso
from fwjr.devstack.broker import KafkaBroker

FWJR = [sys.executable, "-m", "fwjr"]


def _fwjr(*args: str, bootstrap: str = "127.0.0.1:1") -> subprocess.CompletedProcess:
    env = {**os.environ, "FWJR_KAFKA_BOOTSTRAP": bootstrap}
    return subprocess.run([*FWJR, *args], env=env, capture_output=True, timeout=120)


def _event(service: str, start: int, end: int, ts: int, message: str = "") -> bytes:
    return json.dumps({"service": service, "state": "maintenance", "ts": ts, "start": start, "end": end,
                       "message": message}).encode()


def test_windows_are_listed_once_by_start_and_past_ones_are_left_out() -> None:
    values = [
        _event("EOS", 2000, 3000, 1000, "upgrade"),
        _event("EOS", 2000, 3000, 1060, "upgrade"),  # a feed announcing it again
        _event("FTS", 1500, 1800, 1000),
        _event("CMSWEB", 100, 200, 50),  # over before `since`
        json.dumps({"service": "EOS", "state": "down", "ts": 1000}).encode(),
        b"{not json",
    ]
    windows = fold_maintenance(values, since=1000)
    assert [(w["service"], w["start"], w["end"], w["announced"]) for w in windows] == [
        ("FTS", 1500, 1800, 1000), ("EOS", 2000, 3000, 1000)]
    assert windows[1]["message"] == "upgrade"


def test_a_window_ending_before_it_starts_is_refused_before_anything_is_sent() -> None:
    refused = _fwjr("maintenance", "add", "EOS", "--start", "2026-12-02T10:00:00Z", "--end", "2026-12-02T09:00:00Z")
    assert refused.returncode == 2
    assert b"maintenance end is not after its start" in refused.stderr


@pytest.mark.kafka
def test_an_announced_window_is_listed(kafka_broker: KafkaBroker) -> None:
    service = f"EOS-{uuid.uuid4().hex[:8]}"
    now = int(time.time())
    added = _fwjr("maintenance", "add", service, "--start", iso(now + 600), "--end", iso(now + 4200),
                  "--message", "namespace <upgrade>", bootstrap=kafka_broker.bootstrap)
    assert added.returncode == 0, added.stderr.decode()
    listed = _fwjr("maintenance", "list", bootstrap=kafka_broker.bootstrap)
    assert listed.returncode == 0, listed.stderr.decode()
    mine = [w for w in map(json.loads, listed.stdout.splitlines()) if w["service"] == service]
    assert [(w["start"], w["end"], w["message"], w["source"]) for w in mine] == [
        (now + 600, now + 4200, "namespace <upgrade>", "fwjr maintenance add")]
