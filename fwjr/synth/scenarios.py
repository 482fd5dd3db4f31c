"""Scenario files: failure bursts laid into the generated stream (the alert engineer's hook)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from fwjr.synth.model import load_model


@dataclass(frozen=True)
class Burst:
    """A failure burst at one site."""

    site: str
    start_minute: float
    minutes: float
    failure_rate: float
    exit_code: int


def load_scenario(path: Path | str) -> dict:
    """A scenario file (JSON: {"bursts": [{site, start_minute, minutes, failure_rate, exit_code}]})."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        scenario = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"scenario file {path}: not valid JSON ({exc})") from exc
    parse_bursts(scenario, str(path))
    return scenario


def parse_bursts(scenario: dict | None, source: str = "scenario") -> list[Burst]:
    """The scenario's bursts, validated; an unknown site or a missing key names the burst."""
    if not scenario:
        return []
    if not isinstance(scenario, dict):
        raise ValueError(f"{source}: a scenario must be an object, got {scenario!r}")
    sites = load_model()["sites"]
    bursts = []
    for index, raw in enumerate(scenario.get("bursts") or []):
        where = f"{source}: bursts[{index}]"
        missing = {"site", "start_minute", "minutes", "failure_rate", "exit_code"} - set(raw)
        if missing:
            raise ValueError(f"{where} lacks {sorted(missing)}: {raw!r}")
        if raw["site"] not in sites:
            raise ValueError(
                f"{where}: unknown site {raw['site']!r} (use a CMS site name such as T2_CH_CERN)"
            )
        try:
            burst = Burst(
                site=raw["site"],
                start_minute=float(raw["start_minute"]),
                minutes=float(raw["minutes"]),
                failure_rate=float(raw["failure_rate"]),
                exit_code=int(raw["exit_code"]),
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}: {exc} in {raw!r}") from exc
        if not 0.0 <= burst.failure_rate <= 1.0:
            raise ValueError(f"{where}: failure_rate must be within 0..1, got {burst.failure_rate}")
        bursts.append(burst)
    return bursts
