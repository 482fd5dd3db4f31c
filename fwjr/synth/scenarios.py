"""Scenario files: failure bursts laid into the generated stream, at a site, in a workflow, or both."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from fwjr.synth.model import load_model


@dataclass(frozen=True)
class Burst:
    """A failure burst: at one site, in one workflow, or in one workflow at one site.

    `workflow_rank` N is the N-th busiest generated workflow (1 = the busiest; see
    fwjr.synth.catalogue.busiest); without a site the workflow fails at every site.
    `message`, when given, is the error text of every forced failure, so they share one
    signature; otherwise the code's usual texts are drawn.
    """

    site: str | None
    start_minute: float
    minutes: float
    failure_rate: float
    exit_code: int
    workflow_rank: int | None = None
    message: str | None = None


def load_scenario(path: Path | str) -> dict:
    """A scenario file (JSON: {"bursts": [{site and/or workflow_rank, start_minute, minutes, failure_rate, exit_code, message?}]})."""
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
        missing = {"start_minute", "minutes", "failure_rate", "exit_code"} - set(raw)
        if "site" not in raw and "workflow_rank" not in raw:
            missing.add("site")
        if missing:
            raise ValueError(f"{where} lacks {sorted(missing)}: {raw!r}")
        if "site" in raw and raw["site"] not in sites:
            raise ValueError(
                f"{where}: unknown site {raw['site']!r} (use a CMS site name such as T2_CH_CERN)"
            )
        try:
            burst = Burst(
                site=raw.get("site"),
                start_minute=float(raw["start_minute"]),
                minutes=float(raw["minutes"]),
                failure_rate=float(raw["failure_rate"]),
                exit_code=int(raw["exit_code"]),
                workflow_rank=int(raw["workflow_rank"]) if "workflow_rank" in raw else None,
                message=str(raw["message"]) if raw.get("message") is not None else None,
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}: {exc} in {raw!r}") from exc
        if not 0.0 <= burst.failure_rate <= 1.0:
            raise ValueError(f"{where}: failure_rate must be within 0..1, got {burst.failure_rate}")
        if burst.workflow_rank is not None and burst.workflow_rank < 1:
            raise ValueError(f"{where}: workflow_rank counts from 1 (the busiest workflow), got {burst.workflow_rank}")
        bursts.append(burst)
    return bursts
