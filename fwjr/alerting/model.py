"""What the alert rule takes and gives: its knobs (RuleConfig), the outcome of one job (Outcome),
an incident (Alert) and a state change of one (Decision), and the scopes they name.

Kept apart from the engine (fwjr.alerting.rule) because the configuration, the receivers, the
checkpoints and the board use these types without running the rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from fwjr.alerting.baseline import Scope

ALL: Scope = ("all", "")
KINDS: tuple[str, ...] = ("all", "site", "workflow", "exit_code")


@dataclass(frozen=True)
class RuleConfig:
    """The rule's knobs; Settings.alert_rule() builds one from FWJR_ALERT_* settings."""

    window_minutes: int = 5
    baseline_minutes: int = 120
    pending_minutes: int = 3
    resolve_minutes: int = 5
    max_p_value: float = 1e-7
    z_resolve: float = 2.0
    min_excess_failures: float = 5.0
    min_ratio: float = 2.0
    min_excess_rate: float = 0.05
    min_baseline_jobs: int = 100
    min_own_jobs: int = 20
    min_window_jobs: int = 20
    long_window_minutes: int = 30
    prior_jobs: float = 20.0
    prior_rate: float = 0.05
    dominance: float = 0.5
    allowed_lateness: int = 120
    idle_seconds: float = 120.0
    top_exit_codes: int = 3


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
