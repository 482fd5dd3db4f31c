"""The alert rule's false-positive rate on normal traffic and its detection delay on a sweep of bursts.

Drives the pure engine (fwjr.alerting.rule) directly on generated FWJR outcomes: hours of
normal traffic from the generator (real site, job type and exit-code mix), then the same
traffic with a burst injected at one site (failures forced at `failure_rate` for 15 minutes,
as `fwjr generate --scenario` does). Baseline, measured in the same run on the same data:
a fixed-threshold rule of the kind often configured by hand (a site's 5-minute failure rate
>= 20% with >= 10 failures, for 3 consecutive minutes). Delays are event-time minutes from
the burst's start to the alert.

    .venv/bin/python bench/bench_alert_rule.py [--hours 8] [--per-minute 100] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections import Counter, defaultdict

from fwjr.alerting.rule import AlertEngine, Outcome, RuleConfig
from fwjr.alerting.simulate import generated_outcomes

START = 1_790_000_000 - 1_790_000_000 % 3600
BURST_MINUTES = 15
RATES = (0.05, 0.1, 0.2, 0.4, 0.8)
SHARES = (0.05, 0.02)  # besides the biggest site, the sites nearest these shares of all jobs
FIXED_RATE, FIXED_MIN, FIXED_WINDOW, FIXED_PENDING = 0.20, 10, 5, 3


def run_engine(outcomes: list[tuple[int, Outcome]], batch: int = 400) -> list:
    """Fire decisions of the adaptive rule, fed per partition in arrival order like the worker."""
    engine = AlertEngine(RuleConfig())
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


def inject(outcomes: list[tuple[int, Outcome]], site: str, begin: int, rate: float, seed: int) -> list[tuple[int, Outcome]]:
    """The same traffic with a burst at `site` from `begin` for BURST_MINUTES (exit code 8021)."""
    rng = random.Random(seed)
    end = begin + BURST_MINUTES * 60
    changed = []
    for partition, o in outcomes:
        if o.site == site and begin <= o.ts < end and rng.random() < rate:
            o = Outcome(o.ts, o.site, o.workflow, 8021, True)
        changed.append((partition, o))
    return changed


def window(outcomes: list[tuple[int, Outcome]], begin: int, end: int) -> list[tuple[int, Outcome]]:
    return [(p, o) for p, o in outcomes if begin <= o.ts < end]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=8.0)
    parser.add_argument("--per-minute", type=int, default=317, help="jobs per minute (317 = the real CMS day the generator models)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    minutes = int(args.hours * 60)

    started = time.perf_counter()
    normal = generated_outcomes(minutes * args.per_minute, args.seed, START, minutes)
    generated = time.perf_counter() - started
    sites = Counter(o.site for _, o in normal)
    total = sum(sites.values())
    print(f"normal traffic: {total} jobs over {args.hours:g} h ({args.per_minute}/min), "
          f"failure rate {sum(o.failed for _, o in normal) / total:.1%}, {len(sites)} sites; generated in {generated:.0f} s")

    started = time.perf_counter()
    adaptive_fp = run_engine(normal)
    engine_seconds = time.perf_counter() - started
    fixed_fp = run_fixed(normal)
    print(f"engine: {total / engine_seconds:,.0f} outcomes/s ({minutes} event-time minutes in {engine_seconds:.2f} s)")
    print()
    print("| rule | alerts on normal traffic | per hour |")
    print("|---|---|---|")
    print(f"| adaptive (this rule) | {len(adaptive_fp)} in {args.hours:g} h | {len(adaptive_fp) / args.hours:.3f} |")
    print(f"| fixed threshold (baseline) | {len(fixed_fp)} in {args.hours:g} h | {len(fixed_fp) / args.hours:.3f} |")
    for alert in adaptive_fp:
        print(f"  adaptive false alert: {alert.label()} at minute {(alert.fired - START) // 60}")

    shares = {site: count / total for site, count in sites.items()}
    chosen = [sites.most_common(1)[0][0]] + [min(shares, key=lambda s: abs(shares[s] - target)) for target in SHARES]
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


if __name__ == "__main__":
    main()
