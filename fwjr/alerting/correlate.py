"""Failure correlation with outage windows: is a failure a service problem (retry) or a code problem (debug)?

For a time range, the failure rate per exit code and per site inside each outage window is
compared with the rate outside every outage (the same range's calm time). Failures above
the outside rate are the excess, attributed to the outages covering their time bucket
(split evenly when several overlap). Per exit code, a verdict: a code whose failures rise
significantly inside outages is likely a service problem; one that fails just as often
outside is likely a code or configuration problem.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from fwjr.bucket import FIXED_SECONDS

SERVICE = "likely service problem (retry)"
CODE = "likely code or configuration problem (debug)"
MIN_Z = 3.0
MIN_EXCESS = 5.0
MIN_RATIO = 2.0


SHRINK_JOBS = 200.0


def _covering(bucket: int, size: int, outages: list[dict], now: int) -> list[int]:
    end = bucket + size
    return [i for i, o in enumerate(outages) if o["start"] < end and (o["end"] if o["end"] is not None else now) > bucket]


def _z(excess: float, jobs: float, rate: float) -> float:
    variance = jobs * rate * (1.0 - rate)
    return excess / math.sqrt(max(variance, 1.0))


class _Outside:
    """Failure rates outside every outage: per exit code, and per (site, exit code) shrunk towards it."""

    def __init__(self) -> None:
        self.jobs = 0
        self.site_jobs: dict[str, int] = defaultdict(int)
        self.code_fails: dict[int, int] = defaultdict(int)
        self.site_code_fails: dict[tuple[str, int], int] = defaultdict(int)

    def code_rate(self, code: int) -> float:
        return self.code_fails.get(code, 0) / self.jobs if self.jobs else 0.0

    def site_code_rate(self, site: str, code: int) -> float:
        """Sparse (site, code) pairs borrow strength from the code's overall rate."""
        prior = self.code_rate(code)
        return (self.site_code_fails.get((site, code), 0) + SHRINK_JOBS * prior) / (self.site_jobs.get(site, 0) + SHRINK_JOBS)


def correlate(counts: Iterable[Mapping], outages: list[dict], bucket_seconds: int, now: int) -> dict:
    """The correlation report for `counts` rows (bucket, site, exit_code, jobs, failed) and outage windows.

    `outages` are dicts with service, start, end (None = open, counted up to `now`), state.
    Expected failures inside an outage are its jobs (per site) times the outside rate of each
    (site, exit code); the excess is what was seen above that. A bucket covered by several
    outages shares its jobs and failures among them evenly.
    Returns {"outages": [...per outage attribution...], "exit_codes": [...verdicts...], "outside": {...}}.
    """
    outside = _Outside()
    covering_of: dict[int, list[int]] = {}
    inside_jobs: list[dict[str, float]] = [defaultdict(float) for _ in outages]
    inside_fails: list[dict[tuple[str, int], float]] = [defaultdict(float) for _ in outages]
    jobs_in_any = 0
    fails_in_any: dict[int, int] = defaultdict(int)
    for row in counts:
        bucket, site, code = row["bucket"], row["site"], int(row["exit_code"])
        jobs, failed = int(row["jobs"]), int(row["failed"])
        covering = covering_of.setdefault(bucket, _covering(bucket, bucket_seconds, outages, now))
        if not covering:
            outside.jobs += jobs
            outside.site_jobs[site] += jobs
            if failed and code:
                outside.code_fails[code] += failed
                outside.site_code_fails[(site, code)] += failed
            continue
        jobs_in_any += jobs
        if failed and code:
            fails_in_any[code] += failed
        for index in covering:
            inside_jobs[index][site] += jobs / len(covering)
            if failed and code:
                inside_fails[index][(site, code)] += failed / len(covering)
    codes = sorted(set(outside.code_fails) | set(fails_in_any))
    report = [_attribution(o, inside_jobs[i], inside_fails[i], outside, codes) for i, o in enumerate(outages)]
    return {
        "outside": {"jobs": outside.jobs, "failures": sum(outside.code_fails.values())},
        "outages": report,
        "exit_codes": _verdicts(codes, fails_in_any, outside, jobs_in_any),
    }


def _attribution(outage: dict, jobs: dict[str, float], fails: dict[tuple[str, int], float], outside: _Outside, codes: list[int]) -> dict:
    by_code: dict[int, float] = defaultdict(float)
    by_site: dict[str, float] = defaultdict(float)
    for site, count in jobs.items():
        for code in codes:
            expected = count * outside.site_code_rate(site, code)
            excess = fails.get((site, code), 0.0) - expected
            by_code[code] += excess
            by_site[site] += excess
    return {
        "outage": dict(outage),
        "jobs_in": round(sum(jobs.values()), 2),
        "failures_in": round(sum(fails.values()), 2),
        "excess": round(sum(by_code.values()), 2),
        "by_exit_code": _positive(by_code, "exit_code"),
        "by_site": _positive(by_site, "site"),
    }


def _positive(values: dict, key: str) -> list[dict]:
    return [{key: k, "excess": round(v, 2)} for k, v in sorted(values.items(), key=lambda item: -item[1]) if v >= 0.5]


def _verdicts(codes: list[int], fails_in: dict[int, int], outside: _Outside, jobs_in: int) -> list[dict]:
    verdicts = []
    for code in codes:
        failures_in = fails_in.get(code, 0)
        rate_out = outside.code_rate(code)
        rate_in = failures_in / jobs_in if jobs_in else 0.0
        excess = failures_in - jobs_in * rate_out
        z = _z(excess, jobs_in, rate_out)
        service = excess >= MIN_EXCESS and z >= MIN_Z and rate_in >= MIN_RATIO * rate_out
        verdicts.append(
            {
                "exit_code": code,
                "failures_in": failures_in,
                "failures_out": outside.code_fails.get(code, 0),
                "rate_in": round(rate_in, 6),
                "rate_out": round(rate_out, 6),
                "excess": round(excess, 2),
                "z": round(z, 2),
                "verdict": SERVICE if service else CODE,
            }
        )
    return sorted(verdicts, key=lambda v: -v["excess"])


def services_during(start: int, end: int, outages: list[dict]) -> list[dict]:
    """The outages (down or degraded) that overlap a job's run [start, end]."""
    return [o for o in outages if o["start"] <= end and (o["end"] is None or o["end"] > start)]


def correlate_store(store: object, start: int, end: int, now: int, filters: Mapping | None = None,
                    ladder: Sequence[tuple[str, int | None]] | None = None) -> dict:
    """The correlation report for [start, end) from the store's counts and outage windows; the
    board's page, its API and the CLI all call this, so they cannot disagree.

    The counts are read at the finest precision the range still has on the store's `ladder`
    (fwjr.store.sql.ladder; None: minute rows, for a range younger than the minute step), at most
    a day: a coarser bucket is counted inside an outage when the outage covers any part of it.
    """
    from fwjr.store import alerts, sql

    precision = "minute" if ladder is None else sql.finest_precision(start, end, now, ladder)
    if precision not in FIXED_SECONDS:
        precision = "day"
    counts = alerts.failure_counts(store, start, end, precision, filters)
    windows = alerts.outage_windows(store, start, end)
    return correlate(counts, windows, FIXED_SECONDS[precision], now)


def services_for_job(store: object, identity: str) -> list[dict] | None:
    """The outages (down or degraded) during one stored job's run; None when the job is not stored."""
    from fwjr.store import alerts, job_reads

    window = job_reads.job_window(store, identity)
    if window is None:
        return None
    start, end = window
    return services_during(start, end, alerts.outage_windows(store, start, end + 1))
