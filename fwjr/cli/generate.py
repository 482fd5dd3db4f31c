"""Glue between the CLI and the generator: event-time defaults, scenarios, endless feeds."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import yaml

from fwjr.bucket import parse_iso

_FEED_CHUNK = 1000


def load_scenario(path: Path | None) -> dict | None:
    """A scenario file (JSON is YAML too); a clear error when it is not a mapping."""
    if path is None:
        return None
    loaded = yaml.safe_load(path.read_text())
    if not isinstance(loaded, dict):
        raise ValueError(f"scenario {path}: expected a mapping with bursts/outages, got {type(loaded).__name__}")
    return loaded


def run_generate(count: int, seed: int, fmt: str, out: Path, minutes: float | None, start: str | None, scenario: Path | None) -> dict:
    """Write `count` generated FWJRs under `out`; event time starts at `start` or `minutes` ago."""
    from fwjr.cli.progress import counted
    from fwjr.synth import generate_documents, write_archive

    span = minutes if minutes is not None else 60.0
    start_ts = parse_iso(start) if start else int(time.time() - span * 60)
    docs = generate_documents(count, seed, start_ts=start_ts, minutes=span, scenario=load_scenario(scenario))
    return write_archive(counted(docs, "generating FWJRs", total=count), out, fmt)


def generated_messages(
    count: int, seed: int, fmt: str, minutes: float | None, scenario: Path | None, rate: float | None
) -> Iterator:
    """Messages for `fwjr produce --generate N`, with event times that end about now.

    Without --minutes, N FWJRs span what they would take at the real rate (or at --rate);
    N = 0 feeds forever in chunks whose event time follows the wall clock.
    """
    from fwjr.kafka.publish import messages_from_generator
    from fwjr.kafka.status import rehearse_outages
    from fwjr.synth import default_minutes

    loaded = load_scenario(scenario)
    if count > 0:
        span = minutes if minutes is not None else (count / rate / 60 if rate else default_minutes(count))
        start_ts = int(time.time() - span * 60)
        rehearse_outages(loaded, start_ts)
        yield from messages_from_generator(count, seed, fmt, span, start_ts, loaded)
        return
    chunk_minutes = _FEED_CHUNK / rate / 60 if rate else default_minutes(_FEED_CHUNK)
    for chunk in itertools.count():
        yield from messages_from_generator(_FEED_CHUNK, seed + chunk, fmt, chunk_minutes, int(time.time()), loaded)
