"""Job outcomes for exercising the alert rule without a broker: from the generator, or synthetic.

The benchmark and the tests drive the pure engine with these; `source` is the Kafka
partition the FWJR would land on (CRC-32 of its key, librdkafka's default partitioner),
so the engine sees the same per-partition order the worker would.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterator

from fwjr.alerting.model import Outcome
from fwjr.errors import RejectedDocument
from fwjr.merge import merge_document


def generated_outcomes(count: int, seed: int, start_ts: int, minutes: float, scenario: dict | None = None,
                       partitions: int = 8) -> list[tuple[int, Outcome]]:
    """(partition, outcome) for the generator's FWJRs in arrival order, as the worker sees them.

    Malformed documents are skipped and a repeated FWJR counts once (the worker's dedupe).
    """
    from fwjr.synth import generate_documents

    found = []
    seen: set[str] = set()
    for doc in generate_documents(count, seed, start_ts=start_ts, minutes=minutes, scenario=scenario):
        if not isinstance(doc, dict):
            continue
        try:
            job = merge_document(doc)
        except (RejectedDocument, TypeError, ValueError, AttributeError, KeyError, OverflowError):
            continue
        if job.identity in seen:
            continue
        seen.add(job.identity)
        partition = zlib.crc32(job.identity.encode()) % partitions
        found.append((partition, Outcome(job.ts, job.site, job.workflow, job.exit_code, job.failed, job.identity)))
    return found


def synthetic_outcomes(minutes: int, per_minute: int, seed: int, start_ts: int, sites: int = 12, workflows: int = 30,
                       rate: float = 0.05, bursts: list[dict] | None = None) -> Iterator[Outcome]:
    """Independent jobs at a steady rate; `bursts` [{site|workflow, start_minute, minutes, failure_rate, exit_code}]."""
    rng = random.Random(seed)
    site_names = [f"T2_XX_Site{i:02d}" for i in range(sites)]
    workflow_names = [f"wf_{i:03d}" for i in range(workflows)]
    natural = (8001, 50664, 71304, 99109)
    for minute in range(minutes):
        for _ in range(per_minute):
            ts = start_ts + minute * 60 + rng.randrange(60)
            site = site_names[min(int(rng.expovariate(0.3)), sites - 1)]
            workflow = rng.choice(workflow_names)
            code = rng.choice(natural) if rng.random() < rate else 0
            for burst in bursts or ():
                hit = burst.get("site", site) == site and burst.get("workflow", workflow) == workflow
                active = burst["start_minute"] <= minute < burst["start_minute"] + burst["minutes"]
                if hit and active and rng.random() < burst["failure_rate"]:
                    code = burst["exit_code"]
            yield Outcome(ts, site, workflow, code, code != 0)
