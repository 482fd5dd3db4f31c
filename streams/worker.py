"""The worker process: opens the store, migrates it, serves metrics (and, when it owns an
embedded store, the board), then runs the Faust worker until told to stop.

With an embedded chDB store only one process may open it, so in the local default this
process is the store's owner and everything else reaches the store through the board's
JSON API. With FWJR_CLICKHOUSE_URL set, the board runs as its own process.
"""

from __future__ import annotations

import logging
import os

import faust
from prometheus_client import start_http_server

from fwjr.config import Settings
from fwjr.store.connection import connect
from fwjr.store.migrate import ladder_parameters, migrate
from fwjr.store.replace import recover_replaces
from streams.app import create_app
from streams.gc_tuning import collect_less_often
from streams.writer import Runtime

log = logging.getLogger("fwjr.worker")


def run_worker(settings: Settings, with_dashboard: bool) -> None:
    """Run until SIGTERM/SIGINT; every batch is durable before its offsets are committed."""
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    store = connect(settings)
    migrate(store, ladder_parameters(settings))
    replaces = recover_replaces(store)  # before the board or the stream reads the replayed tables
    if replaces.finished or replaces.dropped:
        log.warning("finished replays %s that a crash interrupted; dropped staging tables %s", replaces.finished, replaces.dropped)
    for batch in replaces.abandoned:
        log.error("replay %s was committed but its staging tables are gone: its range may hold the aggregates of "
                  "one version and the errors of another; run that fwjr replay again", batch)
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr=settings.metrics_host)
    if with_dashboard:
        _start_dashboard(settings, store)
    runtime = Runtime(settings, store)
    runtime.ready_file = settings.home / "worker.ready"
    app = create_app(settings, runtime)
    log.info("worker pid %d consuming from %s", os.getpid(), settings.bootstrap)
    collect_less_often()
    try:
        faust.Worker(app, loglevel="WARNING", quiet=True).execute_from_commandline()
    finally:
        runtime.close()


def _start_dashboard(settings: Settings, store: object) -> None:
    """Serve the board from this process, in a thread (the board shares the store handle)."""
    try:
        from dashboard.server import serve_in_thread
    except ImportError as exc:
        log.warning("board not available in this build (%s); the worker runs without it", exc)
        return
    serve_in_thread(settings, store)
