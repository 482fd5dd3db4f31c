"""What a scope is judged against: its rolling baseline, the prior a small scope borrows from
the wider one, the window a small scope is widened to, and the exact binomial score.

Pure functions and small records used by the alert engine (fwjr/alerting/rule.py) once per
judged minute; kept apart so each can be read and tested on its own.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

Scope = tuple[str, str]
_MINUTE = 60


def binomial_tail_log10(k: int, n: int, p: float) -> float:
    """log10 P(X >= k) for X ~ Binomial(n, p), summed exactly from k up (terms fall fast past the mean)."""
    if k <= 0:
        return 0.0
    if k > n or p <= 0.0:
        return -math.inf
    if p >= 1.0:
        return 0.0
    log_p, log_q = math.log(p), math.log1p(-p)
    term = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * log_p + (n - k) * log_q
    if k <= n * p:
        return 0.0
    first, total = term, 0.0
    for i in range(k, n + 1):
        share = math.exp(term - first)
        total += share
        if i == n or share < 1e-12 * total:
            break
        term += math.log(n - i) - math.log(i + 1) + log_p - log_q
    return (first + math.log(total)) / math.log(10)


@dataclass(slots=True)
class Baseline:
    """A scope's rolling (minute, jobs, failures) history, with running sums."""

    entries: deque = field(default_factory=deque)
    jobs: int = 0
    failures: int = 0

    def add(self, minute: int, jobs: int, failures: int) -> None:
        self.entries.append((minute, jobs, failures))
        self.jobs += jobs
        self.failures += failures

    def trim(self, oldest: int) -> None:
        while self.entries and self.entries[0][0] < oldest:
            _, jobs, failures = self.entries.popleft()
            self.jobs -= jobs
            self.failures -= failures

    def before(self, since: int) -> tuple[int, int]:
        """(jobs, failures) of the minutes before `since` (a widened window's minutes are no baseline)."""
        jobs, failures = self.jobs, self.failures
        for minute, newer_jobs, newer_failures in reversed(self.entries):
            if minute < since:
                break
            jobs -= newer_jobs
            failures -= newer_failures
        return jobs, failures


@dataclass(slots=True)
class Score:
    """One scope's window against its baseline: the numbers every test and the evidence use."""

    jobs: int
    failures: int
    baseline: float
    expected: float
    z: float
    warm: bool
    weight: float
    minutes: int

    @classmethod
    def of(cls, jobs: int, failures: int, rate: float, weight: float, warm: bool, minutes: int) -> Score:
        """The score of `failures` in `jobs` at a baseline `rate` known from `weight` jobs; z has the
        baseline's own uncertainty in its variance."""
        expected = jobs * rate
        variance = max(jobs * rate * (1.0 - rate) * (1.0 + jobs / weight), 1e-9)
        z = (failures - expected - 0.5) / math.sqrt(variance)
        return cls(jobs, failures, rate, expected, z, warm, weight, minutes)

    def p_value(self) -> float:
        """P(at least this many failures) at the baseline rate raised by one standard error of it."""
        rate = min(self.baseline + math.sqrt(self.baseline * (1.0 - self.baseline) / self.weight), 0.999)
        return 10.0 ** binomial_tail_log10(self.failures, self.jobs, rate)

    @property
    def rate(self) -> float:
        return self.failures / self.jobs if self.jobs else 0.0

    @property
    def excess(self) -> float:
        return self.failures - self.expected


def prior_strength(baselines: Mapping[Scope, Baseline], kind: str, rate: float, established: int, most: float) -> float:
    """Pseudo-jobs of the beta prior for a `kind` scope without its own baseline, by the method of
    moments over the scopes of that kind with `established` jobs: p(1-p)/tau^2 - 1, where tau^2 is
    their rates' spread beyond binomial noise; between 1 (siblings too few or too unlike to lend
    much) and `most`."""
    total = spread = count = 0
    for (other, _), base in baselines.items():
        if other == kind and base.jobs >= established:
            total += base.jobs
            spread += base.jobs * (base.failures / base.jobs - rate) ** 2
            count += 1
    if count < 3 or not 0.0 < rate < 1.0:
        return 1.0
    noise = rate * (1.0 - rate)
    tau2 = spread / total - noise * count / total
    if tau2 <= 0.0:
        return most
    return min(max(noise / tau2 - 1.0, 1.0), most)


def widen(closed: Mapping[int, Mapping[Scope, list[int]]], minute: int, totals: Mapping[Scope, list[int]],
          window: int, longest: int, min_jobs: int) -> dict[Scope, tuple[int, list[int]]]:
    """Sites and workflows with fewer than `min_jobs` in the `window` minutes ending at `minute`,
    judged instead on the shortest multiple of the window (up to `longest`) that holds that many:
    scope -> (minutes, [jobs, failures]). A small site's burst is then tested on enough jobs to
    be told from noise, at the cost of a longer delay, while big scopes keep the short window."""
    small = {s: list(t) for s, t in totals.items() if s[0] in ("site", "workflow") and t[0] < min_jobs}
    widened: dict[Scope, tuple[int, list[int]]] = {}
    age = window
    while small and age < longest:
        for _ in range(min(window, longest - age)):
            counts = closed.get(minute - age * _MINUTE)
            age += 1
            if counts:
                for scope, total in small.items():
                    found = counts.get(scope)
                    if found:
                        total[0] += found[0]
                        total[1] += found[1]
        for scope in list(small):
            widened[scope] = (age, small[scope])
            if small[scope][0] >= min_jobs:
                del small[scope]
    return widened
