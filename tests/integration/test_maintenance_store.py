"""Planned maintenance from status events into the store, as the worker keeps it for the board."""

from __future__ import annotations

import time

import orjson

from fwjr.config import Settings
from fwjr.store import alerts
from fwjr.store.connection import Store
from streams.alerting import StatusHistory
from tests.fixtures.store import store  # noqa: F401  (fixtures)


def test_maintenance_announcements_become_windows_the_board_reads(store: Store, tmp_path) -> None:  # noqa: F811
    now = int(time.time())
    history = StatusHistory(Settings(home=tmp_path / "home", kafka_port=9), store)
    planned = {"service": "EOS", "state": "maintenance", "ts": now - 60, "start": now + 3600, "end": now + 7200,
               "message": "<b>EOS</b> upgrade", "source": "gocdb"}
    under_way = {"service": "FTS", "state": "maintenance", "ts": now - 600, "start": now - 300, "end": now + 300}
    again = {**planned, "ts": now - 30, "message": "EOS upgrade, moved to the new namespace"}
    history.handle_status([orjson.dumps(d) for d in (planned, under_way, {"service": "EOS", "state": "down", "ts": now - 10}, again)])
    history.close()

    windows = alerts.maintenance_windows(store, now - 3600, now + 86400)
    assert [(w["service"], w["start"] - now, w["end"] - now) for w in windows] == [("FTS", -300, 300), ("EOS", 3600, 7200)]
    assert windows[1]["message"] == "EOS upgrade, moved to the new namespace", "the latest announcement of a window wins"
    assert windows[1]["source"] == "gocdb"
    assert alerts.maintenance_windows(store, now + 7200, now + 9000) == [], "a window ends where it says"
    assert [o["service"] for o in alerts.outage_windows(store, now - 3600, now + 60)] == ["EOS"], "maintenance opens no outage"
