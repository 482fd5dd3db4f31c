"""Cheap seeded draws: every random value of the generator goes through one `random.Random`.

`random.randint` and `random.choice` cost several `random()` calls each; the generator makes
millions of draws, so these helpers take exactly one.
"""

from __future__ import annotations

import random
from bisect import bisect
from collections.abc import Iterable, Sequence
from itertools import accumulate
from typing import Generic, TypeVar

T = TypeVar("T")


def randint(rng: random.Random, low: int, high: int) -> int:
    """An integer in [low, high] from one random() call."""
    return low + int(rng.random() * (high - low + 1))


def pick(rng: random.Random, items: Sequence[T]) -> T:
    """One item, uniformly."""
    return items[int(rng.random() * len(items))]


def guid(rng: random.Random) -> str:
    """An upper-case GUID as CMSSW names its output files."""
    text = f"{rng.getrandbits(128):032X}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


class Choice(Generic[T]):
    """A weighted choice with precomputed cumulative weights (bisect, no per-call sums)."""

    __slots__ = ("items", "cum", "total")

    def __init__(self, weighted: Iterable[tuple[T, float]]) -> None:
        pairs = [(item, weight) for item, weight in weighted if weight > 0]
        self.items = [item for item, _ in pairs]
        self.cum = list(accumulate(weight for _, weight in pairs))
        self.total = self.cum[-1]

    def pick(self, rng: random.Random) -> T:
        return self.items[bisect(self.cum, rng.random() * self.total)]
