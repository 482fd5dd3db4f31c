"""The generator's model file (data/generator_model.json) and the report-shape shares it sets.

The shares of the shapes the agent writes besides a plain archive report (its CouchDB
envelope, pseudo-steps, failed jobs without an error, follow-on errors) and the retry
distribution live in the model file, so that one place says what the stream holds;
`generate_documents(shapes=...)` overrides them per call.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

MODEL_PATH = Path(__file__).resolve().parent.parent / "data" / "generator_model.json"
DEFAULT_START_TS = 1795132800  # 2026-11-20T00:00:00Z: fixed, so seeds alone decide the output


@lru_cache(maxsize=1)
def load_model() -> dict:
    """The shares and rates derived from the real 2016-06-28 aggregates, and the assumed ones."""
    return json.loads(MODEL_PATH.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Shapes:
    """How often each report shape appears; see docs/generator.md, "Report shapes".

    The first five are shares of all generated jobs; `envelope_old_spelling` is a share of
    the envelopes; `log_tail` and `missing_report` are shares of the jobs whose cmsRun step
    failed. The `retry_*` fields give the retry count's distribution.
    """

    envelope: float
    envelope_old_spelling: float
    agent_killed: float
    performance_kill: float
    no_job_report: float
    failed_without_error: float
    log_tail: float
    missing_report: float
    retry_max: int
    retry_after_success: float
    retry_after_failure: float


SHARE_NAMES = tuple(f.name for f in fields(Shapes) if not f.name.startswith("retry_"))
JOB_SHAPES = ("agent_killed", "performance_kill", "no_job_report", "failed_without_error")


def shapes_from_model(overrides: dict[str, Any] | None = None) -> Shapes:
    """The model's shapes with `overrides` ({name: value}) applied; bad names or values are refused."""
    raw = load_model()["report_shapes"]
    retries = raw["retries"]
    shapes = Shapes(
        **{name: float(raw[name]) for name in SHARE_NAMES},
        retry_max=int(retries["max"]),
        retry_after_success=float(retries["after_success"]),
        retry_after_failure=float(retries["after_failure"]),
    )
    if overrides:
        known = {f.name for f in fields(Shapes)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"unknown report shape {unknown}; known: {sorted(known)}")
        shapes = replace(shapes, **{k: (int(v) if k == "retry_max" else float(v)) for k, v in overrides.items()})
    for name in (f.name for f in fields(Shapes)):
        value = getattr(shapes, name)
        if name == "retry_max":
            if value < 0:
                raise ValueError(f"retry_max must be >= 0, got {value}")
        elif not 0.0 <= value <= 1.0:
            raise ValueError(f"report shape {name} must be within 0..1, got {value}")
    if sum(getattr(shapes, name) for name in JOB_SHAPES) > 1.0:
        raise ValueError(f"the job shapes {JOB_SHAPES} add up to more than 1")
    return shapes
