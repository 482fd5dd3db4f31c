"""The store and settings that the board's callbacks and API read.

Dash registers callbacks globally per process, and in the local default the board runs
inside the process that owns the embedded store, so one binding per process is the
natural shape: the server binds it once, every page and API handler reads it here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from dashboard.timeframe import preset_range
from fwjr.config import Settings
from fwjr.store.connection import Store
from fwjr.triage.decide import Decision
from fwjr.triage.report import triage
from fwjr.triage.snapshot import Snapshots


@dataclass(frozen=True, slots=True)
class Binding:
    settings: Settings
    store: Store
    snapshots: Snapshots


_binding: Binding | None = None


def bind(settings: Settings, store: Store) -> None:
    """Point the board at a store (called by dashboard.server before serving), with its own
    triage snapshots: decisions kept for one store are never served for another."""
    global _binding

    def compute(start: int, end: int, now: int) -> list[Decision]:
        return triage(store, start, end, settings=settings, now=now)

    _binding = Binding(settings, store, Snapshots(compute, preset_range, settings.triage_refresh_seconds))


def store() -> Store:
    """The bound store; a clear error when the board was started without one."""
    if _binding is None:
        raise RuntimeError("the board has no store: start it through dashboard.server (serve_in_thread, main or create_wsgi)")
    return _binding.store


def settings() -> Settings:
    """The bound settings (precision ladder, freshness thresholds)."""
    if _binding is None:
        raise RuntimeError("the board has no settings: start it through dashboard.server")
    return _binding.settings


def snapshots() -> Snapshots:
    """The bound store's triage snapshots (fwjr.triage.snapshot), one per preset window."""
    if _binding is None:
        raise RuntimeError("the board has no store: start it through dashboard.server")
    return _binding.snapshots


def now() -> int:
    """The current epoch second: every page's "last N" window ends here."""
    return int(time.time())
