"""The status poller reads a real local JSON status page and maps it to status events."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fwjr.alerting.poller import map_entries, poll
from fwjr.alerting.status import StatusEvent, parse_status
from fwjr.devstack.broker import free_port

PAGE = {
    "page": {"updated_at": "2026-11-23T10:00:00Z"},
    "components": [
        {"name": "EOS", "status": "major_outage", "description": "namespace down", "updated_at": "2026-11-23T09:58:00Z"},
        {"name": "FTS", "status": "operational", "description": "", "updated_at": "2026-11-23T09:00:00Z"},
        {"name": "CMSWEB", "status": "under_maintenance", "description": "upgrade", "updated_at": "2026-11-23T09:30:00Z"},
    ],
}
SPEC = {
    "items": "components",
    "fields": {"service": "name", "state": "status", "message": "description", "ts": "updated_at"},
    "states": {"operational": "up", "degraded_performance": "degraded", "major_outage": "down"},
}


# A downtime feed in the manner of GOCDB's get_downtime (epoch seconds), one window ending before it starts.
DOWNTIMES = {
    "downtimes": [
        {"HOSTNAME": "eoscms.cern.ch", "SEVERITY": "OUTAGE", "DESCRIPTION": "namespace upgrade",
         "START_DATE": 1_800_000_000, "END_DATE": 1_800_007_200},
        {"HOSTNAME": "fts3.cern.ch", "SEVERITY": "WARNING", "DESCRIPTION": "typo in the calendar",
         "START_DATE": 1_800_003_600, "END_DATE": 1_800_000_000},
    ]
}
DOWNTIME_SPEC = {
    "items": "downtimes", "state": "maintenance",
    "fields": {"service": "HOSTNAME", "start": "START_DATE", "end": "END_DATE", "message": "DESCRIPTION"},
}


def _serve(payload: dict) -> Iterator[str]:
    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            body = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{port}/api/v2/components.json"
    server.shutdown()
    server.server_close()


@pytest.fixture
def status_page() -> Iterator[str]:
    yield from _serve(PAGE)


@pytest.fixture
def downtime_feed() -> Iterator[str]:
    yield from _serve(DOWNTIMES)


def test_a_status_page_becomes_status_events_and_unmapped_states_are_rejected(status_page: str) -> None:
    docs = poll({**SPEC, "url": status_page})
    parsed = [parse_status(doc, status_page, now=1_800_000_000) for doc in docs]
    events = [p for p in parsed if isinstance(p, StatusEvent)]
    assert [(e.service, e.state, e.message) for e in events] == [("EOS", "down", "namespace down"), ("FTS", "up", "")]
    assert events[0].ts == 1795427880 and events[0].source == status_page
    rejected = [p for p in parsed if not isinstance(p, StatusEvent)]
    assert len(rejected) == 1 and rejected[0].field == "state" and "under_maintenance" in rejected[0].value


def test_a_fixed_service_name_and_a_missing_time_use_the_poll_time() -> None:
    docs = map_entries({"service": "Rucio", "fields": {"state": "health"}, "states": {"ok": "up"}}, {"health": "ok"}, now=123)
    assert docs == [{"service": "Rucio", "state": "up", "ts": 123, "message": "", "source": ""}]


def test_an_unreachable_page_is_an_error_naming_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}/status.json"
    with pytest.raises(RuntimeError, match=url.replace(".", r"\.")):
        poll({**SPEC, "url": url}, timeout=2)


def test_a_downtime_feed_becomes_maintenance_windows_and_a_window_ending_before_it_starts_is_rejected(downtime_feed: str) -> None:
    docs = poll({**DOWNTIME_SPEC, "url": downtime_feed})
    parsed = [parse_status(doc, downtime_feed, now=1_800_000_000) for doc in docs]
    planned, wrong = parsed
    assert isinstance(planned, StatusEvent)
    assert (planned.service, planned.state, planned.start, planned.end, planned.message) == (
        "eoscms.cern.ch", "maintenance", 1_800_000_000, 1_800_007_200, "namespace upgrade")
    assert not isinstance(wrong, StatusEvent) and wrong.field == "end"
