"""Serving the board: in a thread of the store-owning process, as its own process, or under gunicorn.

- Local default: streams/worker.py calls `serve_in_thread(settings, store)`; waitress serves
  the Flask app from a daemon thread and the board shares the worker's Store.
- `fwjr dashboard` calls `main()`: the board alone, against a ClickHouse server
  (FWJR_CLICKHOUSE_URL), or against the embedded store when no other process owns it.
- Production: `gunicorn 'dashboard.server:create_wsgi()'` (ClickHouse server only: an
  embedded store cannot be opened by several worker processes).

Each process serving the board collects garbage as the worker does (streams/gc_tuning.py, which
the worker applies after starting the board): the triage snapshots keep ~150,000 objects, and
a refresh allocates as many; with the default thresholds a full collection of that heap stopped
every thread for 0.35-0.8 s about once per refresh, with the tuned ones none ran.
"""

from __future__ import annotations

import logging
import sys
import threading
from dataclasses import dataclass

from dash import Dash
from flask import Flask
from waitress import create_server
from waitress.server import BaseWSGIServer, MultiSocketServer

from dashboard import auth, context
from dashboard.app import build_app
from fwjr.config import Settings
from fwjr.config import settings as current_settings
from fwjr.ops.migrate import upgrade as upgrade_operational_data
from fwjr.store.connection import Store, StoreBusyError, connect
from fwjr.store.migrate import migrate
from streams.gc_tuning import collect_less_often

log = logging.getLogger("fwjr.board")
THREADS = 8


@dataclass
class BoardServer:
    """A running board: its address, and how to stop it."""

    url: str
    server: BaseWSGIServer | MultiSocketServer
    thread: threading.Thread

    def close(self) -> None:
        """Stop listening and let the serving thread end."""
        self.server.close()
        self.thread.join(timeout=5)


def create_app(settings: Settings, store: Store) -> Dash:
    """The board bound to this store and these settings (the app itself is built once per process).

    Also brings the operational database (accounts, actions) to the newest migration.
    """
    upgrade_operational_data(settings.ops_url)
    context.bind(settings, store)
    app = build_app()
    auth.configure(app.server, settings)
    return app


def serve_in_thread(settings: Settings, store: Store, port: int | None = None) -> BoardServer:
    """Serve the board and API from a daemon thread with waitress; returns once it listens.

    `port` overrides FWJR_DASHBOARD_PORT (0 picks a free port, for tests).
    """
    app = create_app(settings, store)
    chosen = settings.dashboard_port if port is None else port
    server = _listen(app, settings.dashboard_host, chosen)
    host, bound = server.socket.getsockname()[:2]
    url = f"http://{host}:{bound}/"
    thread = threading.Thread(target=server.run, name="fwjr-board", daemon=True)
    thread.start()
    log.info("board at %s", url)
    return BoardServer(url=url, server=server, thread=thread)


def _listen(app: Dash, host: str, port: int) -> BaseWSGIServer | MultiSocketServer:
    """A waitress server bound to host:port; a taken port is named with the setting to change.

    It polls its sockets with poll(), not select(): select() refuses descriptors above 1024, and the
    worker that serves the board also holds the store's files, Kafka's sockets and its helper's
    pipes, so a long-running process crossed that line and its board thread died.
    """
    try:
        return create_server(app.server, host=host, port=port, threads=THREADS, ident="fwjr-board", asyncore_use_poll=True)
    except OSError as error:
        raise RuntimeError(
            f"cannot serve the board on {host}:{port} ({error.strerror or error}); "
            "set FWJR_DASHBOARD_PORT / FWJR_DASHBOARD_HOST, or stop what holds the port"
        ) from error


def create_wsgi() -> Flask:
    """The WSGI app for gunicorn: settings from the environment, store connected and migrated."""
    settings = current_settings()
    store = connect(settings)
    migrate(store)
    app = create_app(settings, store)
    collect_less_often()
    return app.server


def main() -> int:
    """`fwjr dashboard`: serve the board in the foreground until interrupted; returns the exit status."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = current_settings()
    try:
        store = connect(settings)
    except StoreBusyError as error:
        print(f"fwjr dashboard: {error}", file=sys.stderr)
        return 2
    with store:
        migrate(store)
        app = create_app(settings, store)
        collect_less_often()
        try:
            server = _listen(app, settings.dashboard_host, settings.dashboard_port)
        except RuntimeError as error:
            print(f"fwjr dashboard: {error}", file=sys.stderr)
            return 2
        print(f"board at http://{settings.dashboard_host}:{settings.dashboard_port}/", flush=True)
        try:
            server.run()
        except KeyboardInterrupt:
            pass
        finally:
            server.close()
    return 0
