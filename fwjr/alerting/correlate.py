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
from collections.abc import Iterable, Mapping

SERVICE = "likely service problem (retry)"
CODE = "likely code or configuration problem (debug)"
MIN_Z = 3.0
MIN_EXCESS = 5.0
MIN_RATIO = 2.0


def _covering(bucket: int, size: int, outages: list[dict], now: int) -> list[int]:
    end = bucket + size
    return [i for i, o in enumerate(outages) if o["start"] < end and (o["end"] if o["end"] is not None else now) > bucket]


def _z(excess: float, jobs: int, rate: float) -> float:
    variance = jobs * rate * (1.0 - rate)
    return excess / math.sqrt(max(variance, 1.0))


def correlate(counts: Iterable[Mapping], outages: list[dict], bucket_seconds: int, now: int) -> dict:
    """The correlation report for `counts` rows (bucket, site, exit_code, jobs, failed) and outage windows.

    `outages` are dicts with service, start, end (None = open, counted up to `now`), state.
    Returns {"outages": [...per outage attribution...], "exit_codes": [...verdicts...], "outside": {...}}.
    """
    inside_of: dict[int, list[int]] = {}
    jobs_in_site: dict[tuple[int, str], int] = defaultdict(int)
    jobs_out_site: dict[str, int] = defaultdict(int)
    jobs_in: dict[int, int] = defaultdict(int)
    jobs_out = 0
    fails: list[tuple[int, str, int, int]] = []
    fails_out_code: dict[int, int] = defaultdict(int)
    fails_out_site_code: dict[tuple[str, int], int] = defaultdict(int)
    for row in counts:
        bucket, site, code, jobs, failed = row["bucket"], row["site"], int(row["exit_code"]), int(row["jobs"]), int(row["failed"])
        covering = inside_of.setdefault(bucket, _covering(bucket, bucket_seconds, outages, now))
        if covering:
            jobs_in[bucket] += jobs
            jobs_in_site[(bucket, site)] += jobs
            if failed and code:
                fails.append((bucket, site, code, failed))
        else:
            jobs_out += jobs
            jobs_out_site[site] += jobs
            if failed and code:
                fails_out_code[code] += failed
                fails_out_site_code[(site, code)] += failed
    rate_out = {code: f / jobs_out for code, f in fails_out_code.items()} if jobs_out else {}
    per_outage = [_empty_attribution(o) for o in outages]
    code_in: dict[int, list[float]] = defaultdict(lambda: [0, 0.0])  # failures inside, expected inside
    site_code_in: dict[tuple[str, int], list[float]] = defaultdict(lambda: [0, 0.0])
    for bucket, site, code, failed in fails:
        code_in[code][0] += failed
        site_code_in[(site, code)][0] += failed
        site_rate = fails_out_site_code.get((site, code), 0) / jobs_out_site[site] if jobs_out_site.get(site) else rate_out.get(code, 0.0)
        excess = failed - jobs_in_site[(bucket, site)] * site_rate
        covering = inside_of[bucket]
        for index in covering:
            share = excess / len(covering)
            entry = per_outage[index]
            entry["failures_in"] += failed
            entry["excess"] += share
            entry["by_exit_code"][code] += share
            entry["by_site"][site] += share
    jobs_inside_total = sum(jobs_in.values())
    for code in code_in:
        code_in[code][1] = jobs_inside_total * rate_out.get(code, 0.0)
    for index, outage in enumerate(outages):
        buckets = [b for b, covering in inside_of.items() if index in covering]
        per_outage[index]["jobs_in"] = sum(jobs_in[b] for b in buckets)
    return {
        "outside": {"jobs": jobs_out, "failures": sum(fails_out_code.values())},
        "outages": [_finish(entry) for entry in per_outage],
        "exit_codes": _verdicts(code_in, fails_out_code, jobs_inside_total, jobs_out),
    }


def _empty_attribution(outage: dict) -> dict:
    return {
        "outage": dict(outage),
        "jobs_in": 0,
        "failures_in": 0,
        "excess": 0.0,
        "by_exit_code": defaultdict(float),
        "by_site": defaultdict(float),
    }


def _finish(entry: dict) -> dict:
    entry["excess"] = round(entry["excess"], 2)
    entry["by_exit_code"] = [
        {"exit_code": code, "excess": round(value, 2)}
        for code, value in sorted(entry["by_exit_code"].items(), key=lambda item: -item[1])
        if value > 0
    ]
    entry["by_site"] = [
        {"site": site, "excess": round(value, 2)}
        for site, value in sorted(entry["by_site"].items(), key=lambda item: -item[1])
        if value > 0
    ]
    return entry


def _verdicts(code_in: dict, fails_out: dict, jobs_in: int, jobs_out: int) -> list[dict]:
    verdicts = []
    for code in sorted(set(code_in) | set(fails_out)):
        failures_in = int(code_in[code][0]) if code in code_in else 0
        failures_out = fails_out.get(code, 0)
        rate_in = failures_in / jobs_in if jobs_in else 0.0
        rate_out = failures_out / jobs_out if jobs_out else 0.0
        excess = failures_in - jobs_in * rate_out
        z = _z(excess, jobs_in, rate_out)
        service = excess >= MIN_EXCESS and z >= MIN_Z and rate_in >= MIN_RATIO * rate_out
        verdicts.append(
            {
                "exit_code": code,
                "failures_in": failures_in,
                "failures_out": failures_out,
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
