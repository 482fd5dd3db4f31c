"""The generated stream: `count` reports in arrival order, with the shapes, drift and damage it promises."""

from __future__ import annotations

import random
from collections.abc import Iterator

import orjson

from fwjr.synth.agent_form import to_envelope
from fwjr.synth.builder import Builder
from fwjr.synth.draws import pick, randint
from fwjr.synth.drift import Document, apply_drift, malformed
from fwjr.synth.model import DEFAULT_START_TS, load_model, shapes_from_model
from fwjr.synth.scenarios import parse_bursts

DUPLICATE_WINDOW = 1000  # duplicates repeat one of the last N documents, as a re-sent batch would
LATE_SHARE = 0.05  # reports that reached the archive 1-30 minutes late


def default_minutes(count: int) -> float:
    """The span that `count` jobs take at the real rate (456,823 jobs on 2016-06-28)."""
    return count / load_model()["jobs_per_minute"]


def generate_documents(
    count: int,
    seed: int,
    start_ts: int | None = None,
    minutes: float | None = None,
    drift_share: float = 0.05,
    malformed_share: float = 0.01,
    duplicate_share: float = 0.02,
    scenario: dict | None = None,
    shapes: dict | None = None,
) -> Iterator[Document]:
    """`count` FWJRs in arrival order: dicts, and raw bytes for undecodable ones.

    Documents' time (`meta_data.ts`, an envelope's `timestamp`) spreads over `minutes`
    (default: the real job rate) from `start_ts` (default 2026-11-20T00:00Z), mostly in
    order with some late arrivals. Shares are probabilities per item: `malformed_share`
    must be rejected by consumers, `duplicate_share` repeats an earlier document exactly
    (same wmaid, fresh object), `drift_share` carries real-world format drift. `shapes`
    overrides the model's report-shape shares by name (e.g. {"envelope": 0}; see
    docs/generator.md). `scenario` bursts force failures at a site in a time window.

    The envelope decision has its own draw and the envelope its own random stream, so one
    seed gives the same jobs in the same order whatever the envelope share, as long as no
    drift, damage or duplicates are asked for.
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    for name, share in (
        ("drift_share", drift_share),
        ("malformed_share", malformed_share),
        ("duplicate_share", duplicate_share),
    ):
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"{name} must be within 0..1, got {share}")
    chosen = shapes_from_model(shapes)
    start = DEFAULT_START_TS if start_ts is None else int(start_ts)
    span = (default_minutes(count) if minutes is None else float(minutes)) * 60.0
    builder = Builder(seed, start, parse_bursts(scenario), chosen)
    rng = builder.rng
    form_rng = random.Random(f"fwjr-agent-form-{seed}")
    recent: list[bytes] = []
    for index in range(count):
        ts = start + int(span * index / count) if count else start
        if rng.random() < LATE_SHARE:
            ts -= randint(rng, 60, 1800)
        ts = min(max(ts, start), start + max(int(span) - 1, 0))
        draw = rng.random()
        if draw < duplicate_share and recent:
            yield orjson.loads(pick(rng, recent))
            continue
        doc = builder.job(ts)
        if draw < duplicate_share + malformed_share:
            yield malformed(doc, rng)
            continue
        drifted = rng.random() < drift_share
        if rng.random() < chosen.envelope:
            yield to_envelope(doc, form_rng, form_rng.random() < chosen.envelope_old_spelling)
            continue
        if drifted:
            apply_drift(doc, rng)
        if duplicate_share and "wmaid" in doc:
            recent.append(orjson.dumps(doc))  # a snapshot: the consumer may change the dict it gets
            if len(recent) > DUPLICATE_WINDOW:
                recent.pop(0)
        yield doc


def burst_workflows(scenario: dict | None, seed: int, start_ts: int | None = None) -> list[str | None]:
    """The workflow each of the scenario's bursts hits (None for a site-wide burst), as
    `generate_documents` with the same seed and start resolves their `workflow_rank`."""
    start = DEFAULT_START_TS if start_ts is None else int(start_ts)
    return Builder(seed, start, parse_bursts(scenario), shapes_from_model()).burst_workflows
