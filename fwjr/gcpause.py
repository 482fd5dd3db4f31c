"""Pausing Python's cyclic garbage collector around the fold of a batch of FWJRs.

Decoding, merging and folding a batch makes millions of dicts, lists and job records,
none of them in a reference cycle: reference counting frees every one. The cyclic
collector still walks them, and the survivors (a batch's jobs and aggregate rows) again
and again as they age, which cost 15-40% of the fold's CPU in the replay and the stream
helper. Within a batch it is paused; what the batch leaves behind is collected as usual
once it ends.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block with the cyclic collector off; it is switched back on only if it was on."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
