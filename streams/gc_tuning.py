"""Garbage-collector settings for the store-owning worker process (and any process serving the board).

It holds tens of thousands of live objects per batch in flight (Faust events and their
messages, held until the store has the batch), and with CPython's default thresholds
(700, 10, 10) they reach the old generation, where every full collection walks them all
again: with the defaults, the worker spent about a fifth of its CPU in collections
(bench/bench_stream.py with the collections timed by gc.callbacks; docs/stream.md has the
figures), with the settings below a few percent. Cycles are still collected, only less often.
(The preparer process instead pauses the collector while it prepares a batch: fwjr/gcpause.py.)
"""
from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000
MIDDLE_THRESHOLD = 20
OLD_THRESHOLD = 100


def collect_less_often() -> None:
    """Freeze what start-up created (modules, app, schema) and raise the collection thresholds.

    Call once, after start-up and before the first batch: frozen objects are never scanned again.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)
