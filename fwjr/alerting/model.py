"""What the alert rule takes and gives: its knobs (RuleConfig), the outcome of one job (Outcome),
an incident (Alert) and a state change of one (Decision), and the scopes they name.

Kept apart from the engine (fwjr.alerting.rule) because the configuration, the receivers, the
checkpoints and the board use these types without running the rule.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import msgspec

from fwjr.alerting.baseline import Scope
from fwjr.config import Settings

# Each knob a setting sets is read from the setting alert_<knob>, except these.
_SETTING_NAMES: dict[str, str] = {"idle_seconds": "alert_source_idle_seconds"}


def _setting(knob: str) -> str:
    return _SETTING_NAMES.get(knob, f"alert_{knob}")


def _default(knob: str) -> object:
    """The knob's default: its setting's, so that it is written once (fwjr/config.py)."""
    return Settings.model_fields[_setting(knob)].default

ALL: Scope = ("all", "")
KINDS: tuple[str, ...] = ("all", "site", "workflow", "exit_code")


@dataclass(frozen=True)
class RuleConfig:
    """The rule's knobs; alert_rule(settings) builds one from the FWJR_ALERT_* settings."""

    window_minutes: int = _default("window_minutes")  # type: ignore[assignment]
    baseline_minutes: int = _default("baseline_minutes")  # type: ignore[assignment]
    pending_minutes: int = _default("pending_minutes")  # type: ignore[assignment]
    resolve_minutes: int = _default("resolve_minutes")  # type: ignore[assignment]
    max_p_value: float = _default("max_p_value")  # type: ignore[assignment]
    z_resolve: float = _default("z_resolve")  # type: ignore[assignment]
    min_excess_failures: float = _default("min_excess_failures")  # type: ignore[assignment]
    min_ratio: float = _default("min_ratio")  # type: ignore[assignment]
    min_excess_rate: float = _default("min_excess_rate")  # type: ignore[assignment]
    min_baseline_jobs: int = _default("min_baseline_jobs")  # type: ignore[assignment]
    min_own_jobs: int = _default("min_own_jobs")  # type: ignore[assignment]
    min_window_jobs: int = _default("min_window_jobs")  # type: ignore[assignment]
    long_window_minutes: int = _default("long_window_minutes")  # type: ignore[assignment]
    prior_jobs: float = _default("prior_jobs")  # type: ignore[assignment]
    prior_rate: float = 0.05
    dominance: float = 0.5
    allowed_lateness: int = _default("allowed_lateness")  # type: ignore[assignment]
    idle_seconds: float = _default("idle_seconds")  # type: ignore[assignment]
    top_exit_codes: int = 3



def alert_rule(settings: Settings) -> RuleConfig:
    """The rule's knobs from `settings` (each FWJR_ALERT_<KNOB> sets RuleConfig.<knob>)."""
    return RuleConfig(**{f.name: getattr(settings, _setting(f.name)) for f in fields(RuleConfig)
                         if _setting(f.name) in Settings.model_fields})

class Outcome(msgspec.Struct, frozen=True, array_like=True):
    """What the rule needs of one merged job; `identity` (the job's, empty = unknown) dedupes."""

    ts: int
    site: str
    workflow: str
    exit_code: int
    failed: bool
    identity: str = ""


class Alert(msgspec.Struct, kw_only=True):
    """One incident: where, since when, and the evidence an on-call person starts from."""

    id: str
    scope: str
    value: str
    state: str
    started: int
    fired: int
    resolved: int | None
    evidence: dict
    members: list[str]

    def label(self) -> str:
        return scope_label((self.scope, self.value))


class Decision(msgspec.Struct, frozen=True):
    """A state change of one alert: "fire" or "resolve", with a copy of the alert as it was then
    (receivers send it later, from their own threads, while the engine keeps updating its own)."""

    action: str
    alert: Alert


def scope_label(scope: Scope) -> str:
    return "all jobs" if scope == ALL else f"{scope[0]}={scope[1]}"
