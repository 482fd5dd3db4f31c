"""The board's server keeps serving in a process that holds many descriptors, as the worker does."""

from __future__ import annotations

import os
import resource
import urllib.request
from pathlib import Path

from fwjr.config import Settings
from fwjr.store.connection import connect
from fwjr.store.migrate import migrate


def test_the_board_answers_when_its_socket_is_above_descriptor_1024(tmp_path: Path) -> None:
    """select() refuses descriptors above 1024; the worker's store files, Kafka sockets and helper
    pipes take many, and a long test run crossed that line and killed the board's thread."""
    from dashboard.server import serve_in_thread

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert hard >= 2048, f"this test needs a descriptor limit of at least 2048, the hard limit is {hard}"
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 2048), hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(max(0, 1100 - len(os.listdir("/proc/self/fd"))))]
    store = connect(Settings(home=tmp_path / "home"))
    try:
        migrate(store)
        server = serve_in_thread(Settings(home=tmp_path / "home", dashboard_port=0), store, port=0)
        try:
            assert server.server.socket.fileno() > 1024
            with urllib.request.urlopen(server.url.rstrip("/") + "/api/v1/health", timeout=30) as answer:
                assert answer.status == 200
        finally:
            server.close()
    finally:
        store.close()
        for fd in held:
            os.close(fd)
