"""The alert rule's false-positive rate on normal traffic and its detection delay on a sweep of bursts.

Drives the pure engine (fwjr.alerting.rule) directly on generated FWJR outcomes: hours of
normal traffic from the generator (real site, job type and exit-code mix), then the same
traffic with a burst injected at one site (failures forced at `failure_rate` for 15 minutes,
as `fwjr generate --scenario` does). Baseline, measured in the same run on the same data:
a fixed-threshold rule of the kind often configured by hand (a site's 5-minute failure rate
>= 20% with >= 10 failures, for 3 consecutive minutes). Delays are event-time minutes from
the burst's start to the alert. Run at the real rate (317 jobs/min) and at a low one (111
jobs/min, a quiet period), where the small sites (1-2% of the jobs) see one or two jobs a minute.

    .venv/bin/python bench/bench_alert_rule.py [--hours 8] [--per-minute 317,111] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections import Counter, defaultdict

from fwjr.alerting.model import Outcome, RuleConfig
from fwjr.alerting.rule import AlertEngine
from fwjr.alerting.simulate import generated_outcomes

START = 1_790_000_000 - 1_790_000_000 % 3600
BURST_MINUTES = 15
RATES = (0.05, 0.1, 0.2, 0.4, 0.8)
SHARES = (0.05, 0.02, 0.013, 0.01)  # besides the biggest site, the sites nearest these shares of all jobs
YOUNG_SHARE = 0.013  # the reported small site's share
FIXED_RATE, FIXED_MIN, FIXED_WINDOW, FIXED_PENDING = 0.20, 10, 5, 3


# The rule without borrowing and widening (a scope alerts on its own 100 jobs, in 5 minutes):
# the cost baseline for the engine's speed, measured in the same run.
NARROW = RuleConfig(min_own_jobs=10**9, long_window_minutes=RuleConfig().window_minutes)


def run_engine(outcomes: list[tuple[int, Outcome]], batch: int = 400, config: RuleConfig | None = None) -> list:
    """Fire decisions of the adaptive rule, fed per partition in arrival order like the alerter."""
    engine = AlertEngine(config or RuleConfig())
    fires = []
    for i in range(0, len(outcomes), batch):
        chunk = outcomes[i : i + batch]
        for partition in sorted({p for p, _ in chunk}):
            engine.observe([o for p, o in chunk if p == partition], source=partition)
        fires += [d.alert for d in engine.advance() if d.action == "fire"]
    return fires


def run_fixed(outcomes: list[tuple[int, Outcome]]) -> list[tuple[str, int]]:
    """(site, fire time) of the fixed-threshold rule, judged on complete minutes (an advantage)."""
    jobs: dict[tuple[str, int], int] = Counter()
    fails: dict[tuple[str, int], int] = Counter()
    for _, o in outcomes:
        minute = o.ts - o.ts % 60
        jobs[(o.site, minute)] += 1
        fails[(o.site, minute)] += o.failed
    minutes = sorted({m for _, m in jobs})
    fires, streak, firing = [], defaultdict(int), set()
    for minute in minutes:
        window = range(minute - (FIXED_WINDOW - 1) * 60, minute + 60, 60)
        for site in {s for s, m in jobs if m == minute} | firing:
            n = sum(jobs.get((site, m), 0) for m in window)
            k = sum(fails.get((site, m), 0) for m in window)
            hot = n and k >= FIXED_MIN and k / n >= FIXED_RATE
            streak[site] = streak[site] + 1 if hot else 0
            if hot and streak[site] >= FIXED_PENDING and site not in firing:
                firing.add(site)
                fires.append((site, minute + 60))
            elif not hot and site in firing:
                firing.discard(site)
    return fires


def inject(outcomes: list[tuple[int, Outcome]], site: str, begin: int, rate: float, seed: int,
           minutes: int = BURST_MINUTES) -> list[tuple[int, Outcome]]:
    """The same traffic with a burst at `site` from `begin` for `minutes` (exit code 8021)."""
    rng = random.Random(seed)
    end = begin + minutes * 60
    changed = []
    for partition, o in outcomes:
        if o.site == site and begin <= o.ts < end and rng.random() < rate:
            o = Outcome(o.ts, o.site, o.workflow, 8021, True, o.identity)
        changed.append((partition, o))
    return changed


def young_site(normal: list[tuple[int, Outcome]], site: str, share: float, positions: list[int]) -> None:
    """The reported case: a 30-minute burst (90% of the site's jobs fail with 8021) at a small site
    one hour after the rule started, before the site has an established baseline of its own;
    the same traffic judged by this rule, by it without borrowing and widening, and by the fixed rule."""
    print()
    print(f"young site: {site} ({share:.1%}), a 30-minute burst at 90% one hour after the rule started")
    print("| rule | detected | median delay (min) | other alerts |")
    print("|---|---|---|---|")
    for name, config in (("adaptive (this rule)", RuleConfig()), ("adaptive without borrowing and widening", NARROW)):
        delays, extra = [], 0
        for index, begin in enumerate(positions):
            traffic = inject(window(normal, begin - 3600, begin + 3600), site, begin, 0.9, seed=index, minutes=30)
            fires = run_engine(traffic, config=config)
            hits = [a for a in fires if (a.scope, a.value) == ("site", site) and a.fired >= begin]
            extra += len(fires) - len(hits[:1])
            if hits:
                delays.append((hits[0].fired - begin) / 60)
        median = statistics.median(delays) if delays else "-"
        print(f"| {name} | {len(delays)}/{len(positions)} | {median} | {extra} |")
    fixed_delays = []
    for index, begin in enumerate(positions):
        traffic = inject(window(normal, begin - 3600, begin + 3600), site, begin, 0.9, seed=index, minutes=30)
        fixed = [t for s, t in run_fixed(traffic) if s == site and t >= begin]
        if fixed:
            fixed_delays.append((fixed[0] - begin) / 60)
    median = statistics.median(fixed_delays) if fixed_delays else "-"
    print(f"| fixed threshold (baseline) | {len(fixed_delays)}/{len(positions)} | {median} | - |")


def window(outcomes: list[tuple[int, Outcome]], begin: int, end: int) -> list[tuple[int, Outcome]]:
    return [(p, o) for p, o in outcomes if begin <= o.ts < end]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=8.0)
    parser.add_argument("--per-minute", default="317,111",
                        help="jobs per minute, comma separated (317 = the real CMS day the generator models; 111 = a quiet period)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    for per_minute in (int(rate) for rate in args.per_minute.split(",")):
        measure(args.hours, per_minute, args.seed)
        print()


def measure(hours: float, per_minute: int, seed: int) -> None:
    """Both tables for one traffic rate."""
    minutes = int(hours * 60)
    print(f"## {per_minute} jobs/min")
    started = time.perf_counter()
    normal = generated_outcomes(minutes * per_minute, seed, START, minutes)
    generated = time.perf_counter() - started
    sites = Counter(o.site for _, o in normal)
    total = sum(sites.values())
    print(f"normal traffic: {total} jobs over {hours:g} h ({per_minute}/min), "
          f"failure rate {sum(o.failed for _, o in normal) / total:.1%}, {len(sites)} sites; generated in {generated:.0f} s")

    started = time.perf_counter()
    adaptive_fp = run_engine(normal)
    engine_seconds = time.perf_counter() - started
    started = time.perf_counter()
    narrow_fp = run_engine(normal, config=NARROW)
    narrow_seconds = time.perf_counter() - started
    fixed_fp = run_fixed(normal)
    print(f"engine: {total / engine_seconds:,.0f} outcomes/s ({minutes} event-time minutes in {engine_seconds:.2f} s); "
          f"without borrowing and widening {total / narrow_seconds:,.0f} outcomes/s: time ratio {engine_seconds / narrow_seconds:.2f}, "
          f"{len(narrow_fp)} alerts on normal traffic")
    print()
    print("| rule | alerts on normal traffic | per hour |")
    print("|---|---|---|")
    print(f"| adaptive (this rule) | {len(adaptive_fp)} in {hours:g} h | {len(adaptive_fp) / hours:.3f} |")
    print(f"| fixed threshold (baseline) | {len(fixed_fp)} in {hours:g} h | {len(fixed_fp) / hours:.3f} |")
    for alert in adaptive_fp:
        print(f"  adaptive false alert: {alert.label()} at minute {(alert.fired - START) // 60}")

    shares = {site: count / total for site, count in sites.items()}
    chosen = [sites.most_common(1)[0][0]] + [min(shares, key=lambda s: abs(shares[s] - target)) for target in SHARES]
    chosen = [site for site in dict.fromkeys(chosen) if site]  # each once; the jobs without a site are no site
    positions = [START + int(h * 3600) for h in (2.5, 4.0, 5.5) if h * 60 + 60 < minutes]
    print()
    print("| site (share of jobs) | burst failure rate | detected adaptive | detected fixed | median delay adaptive (min) "
          "| median delay fixed (min) | delay ratio adaptive/fixed | other alerts adaptive |")
    print("|---|---|---|---|---|---|---|---|")
    for site in chosen:
        for rate in RATES:
            delays, fixed_delays, extra = [], [], 0
            for index, begin in enumerate(positions):
                traffic = inject(window(normal, begin - 7200, begin + 3600), site, begin, rate, seed=index)
                fires = run_engine(traffic)
                hits = [a for a in fires if (a.scope, a.value) == ("site", site) and a.fired >= begin]
                extra += len(fires) - len(hits[:1])
                if hits:
                    delays.append((hits[0].fired - begin) / 60)
                fixed = [t for s, t in run_fixed(traffic) if s == site and t >= begin]
                if fixed:
                    fixed_delays.append((fixed[0] - begin) / 60)
            med = statistics.median(delays) if delays else None
            fmed = statistics.median(fixed_delays) if fixed_delays else None
            ratio = f"{med / fmed:.2f}" if med and fmed else "-"
            print(f"| {site} ({sites[site] / total:.1%}) | {rate:.0%} | {len(delays)}/{len(positions)} | "
                  f"{len(fixed_delays)}/{len(positions)} | {med if med is not None else '-'} | "
                  f"{fmed if fmed is not None else '-'} | {ratio} | {extra} |")
    young = min(shares, key=lambda s: abs(shares[s] - YOUNG_SHARE))
    young_site(normal, young, shares[young], [START + int(h * 3600) for h in (1.0, 3.0, 5.0) if h * 60 + 60 < minutes])


if __name__ == "__main__":
    main()
