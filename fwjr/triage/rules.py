"""Remedy rules: which kind of problem an error is and what operators do about it.

A rules file (YAML, `version: 1`) lists rules; each matches step errors on any of step type,
exit codes, signature and message (re2), optionally narrowed to site, workflow or task
patterns (re2, searched anywhere in the name unless anchored), and gives an error class and a
remedy. A rule is `active` (it can be the decision) or `passive` (on trial: evaluated and
logged, never the decision), as in PanDA's retry module.

The most specific matching rule wins (`Rule.specificity`): more conditions beat fewer; with
as many conditions, one with a signature or message condition beats one without, then one
naming exit codes beats one without; then the rule written earlier in the file wins.

The file is checked whole when it is loaded: a bad rule is refused with its index, its id
and the field (`rules[3] (id 'x'): match.message: ...`), re2 patterns are compiled then.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import re2
import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, field_validator, model_validator

log = logging.getLogger("fwjr.triage")

ERROR_CLASSES: tuple[str, ...] = ("service", "site", "resources", "code", "configuration", "unknown")
SIMPLE_REMEDIES: tuple[str, ...] = ("acdc", "more-wallclock", "kill-and-clone", "site-support", "open-issue", "none")
REMEDIES: tuple[str, ...] = SIMPLE_REMEDIES + ("more-memory", "split")
DEFAULT_RULES = "triage_rules.yaml"  # in fwjr/data
_STEP_NUMBER = re.compile(r"\d+$")
_DECIDED_LIMIT = 200_000  # kinds of error whose winning rule is remembered (a week of a busy agent's)


def step_type(step: str) -> str:
    """A step's type: its name without the trailing number (cmsRun2 -> cmsRun, stageOut1 -> stageOut)."""
    return _STEP_NUMBER.sub("", step)


_QUIET = re2.Options()
_QUIET.log_errors = False  # a bad pattern is reported once, by the ValueError below


def _compile(pattern: str) -> Any:
    return re2.compile(pattern, _QUIET)


def compile_re2(pattern: str, what: str) -> Any:
    """`pattern` compiled with re2; a ValueError naming `what`, the pattern and re2's reason when it does not compile."""
    try:
        return _compile(pattern)
    except re2.error as error:
        reason = error.args[0].decode(errors="replace") if error.args and isinstance(error.args[0], bytes) else str(error)
        raise ValueError(f"{what} {pattern!r} is not a valid re2 pattern ({reason})") from None


def _compiled(value: str | None, what: str) -> str | None:
    if value is not None:
        compile_re2(value, what)
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Match(_Strict):
    """The conditions of a rule; every condition given must hold, and at least one is given."""

    step_type: str | None = Field(default=None, description="cmsRun, stageOut, logArch, upload, logCollect, ...")
    exit_codes: list[int] | None = Field(default=None, min_length=1)
    signature: str | None = Field(default=None, description="fwjr.signature of the message, exactly")
    message: str | None = Field(default=None, description="re2 pattern searched in the error message")
    site: str | None = None
    workflow: str | None = None
    task: str | None = None

    @field_validator("message", "site", "workflow", "task")
    @classmethod
    def _re2(cls, value: str | None) -> str | None:
        return _compiled(value, "pattern")

    @model_validator(mode="after")
    def _something(self) -> "Match":
        if all(getattr(self, name) is None for name in type(self).model_fields):
            raise ValueError("a rule must match on something: give at least one of " + ", ".join(type(self).model_fields))
        return self

    def conditions(self) -> int:
        return sum(getattr(self, name) is not None for name in type(self).model_fields)


class SimpleRemedy(_Strict):
    action: Literal["acdc", "more-wallclock", "kill-and-clone", "site-support", "open-issue", "none"]


class MoreMemory(_Strict):
    action: Literal["more-memory"]
    memory_mb: PositiveInt = Field(description="MB to add per job (Unified's mem quantum is 1000)")


class Split(_Strict):
    action: Literal["split"]
    factor: int = Field(ge=2, description="into how many jobs one job's input is split")


Remedy = Annotated[Union[SimpleRemedy, MoreMemory, Split], Field(discriminator="action")]


def remedy_text(remedy: SimpleRemedy | MoreMemory | Split) -> str:
    """One word or two for tables: acdc, more-memory +1000MB, split 4."""
    if isinstance(remedy, MoreMemory):
        return f"more-memory +{remedy.memory_mb}MB"
    if isinstance(remedy, Split):
        return f"split {remedy.factor}"
    return remedy.action


class Rule(_Strict):
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
    description: str = ""
    source: str = Field(default="", description="where the rule comes from (procedures, unified, an operator)")
    match: Match
    error_class: Literal["service", "site", "resources", "code", "configuration", "unknown"]
    remedy: Remedy
    mode: Literal["active", "passive"] = "active"

    @field_validator("remedy", mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        """`remedy: acdc` is short for `remedy: {action: acdc}`."""
        return {"action": value} if isinstance(value, str) else value

    def specificity(self) -> tuple[int, int, int]:
        m = self.match
        return (m.conditions(), int(m.signature is not None or m.message is not None), int(m.exit_codes is not None))


class RuleFile(_Strict):
    version: Literal[1]
    rules: list[Rule]

    @model_validator(mode="after")
    def _unique_ids(self) -> "RuleFile":
        seen: dict[str, int] = {}
        for index, rule in enumerate(self.rules):
            if rule.id in seen:
                raise ValueError(f"rules[{index}]: id {rule.id!r} is already used by rules[{seen[rule.id]}]")
            seen[rule.id] = index
        return self


@dataclass(frozen=True)
class ErrorFacts:
    """What a rule is matched against: one kind of step error of one workflow, task and site."""

    step: str
    exit_code: int
    signature: str = ""
    message: str = ""
    site: str = ""
    workflow: str = ""
    task: str = ""


class RuleSet:
    """Loaded, checked rules with their patterns compiled once (re2)."""

    def __init__(self, loaded: RuleFile, origin: str) -> None:
        self.origin = origin
        self.rules = loaded.rules
        self._patterns = [
            {name: _compile(getattr(rule.match, name)) for name in ("message", "site", "workflow", "task") if getattr(rule.match, name) is not None}
            for rule in loaded.rules
        ]
        order = sorted(range(len(self.rules)), key=lambda i: (tuple(-s for s in self.rules[i].specificity()), i))
        # The candidates for each exit code, in that order: the rules naming it and the rules naming no code.
        codes = {code for rule in self.rules for code in rule.match.exit_codes or ()}
        self._any_code = [i for i in order if self.rules[i].match.exit_codes is None]
        self._by_code = {code: [i for i in order if code in (self.rules[i].match.exit_codes or (code,))] for code in codes}
        self._decided: dict[tuple[str, int, str, str, str, str, str], tuple[Rule | None, list[Rule]]] = {}

    def matching(self, facts: ErrorFacts) -> list[Rule]:
        """Every rule that matches, most specific first (ties: file order)."""
        candidates = self._by_code.get(facts.exit_code, self._any_code)
        return [self.rules[i] for i in candidates if self._matches(i, facts)]

    def best(self, facts: ErrorFacts) -> tuple[Rule | None, list[Rule]]:
        """The most specific active rule (None when none matches) and the passive rules that match
        more specifically than it, which are logged once per kind of error: what they would have
        decided instead."""
        return self.best_of(facts.step, facts.exit_code, facts.signature, facts.message, facts.site, facts.workflow, facts.task)

    def best_of(self, step: str, exit_code: int, signature: str, message: str, site: str, workflow: str, task: str) -> tuple[Rule | None, list[Rule]]:
        """`best` for the facts given one by one: the triage asks once per kind of error of every
        workflow and task (26,000 times for a busy day), and remembers each answer under a plain
        tuple, which hashes in C where a dataclass key hashes and compares in Python (a third of
        the rule matching's time)."""
        key = (step, exit_code, signature, message, site, workflow, task)
        known = self._decided.get(key)
        if known is None:
            if len(self._decided) >= _DECIDED_LIMIT:
                self._decided.clear()
            known = self._decided[key] = self._best(ErrorFacts(*key))
        return known

    def _best(self, facts: ErrorFacts) -> tuple[Rule | None, list[Rule]]:
        passive: list[Rule] = []
        for rule in self.matching(facts):
            if rule.mode == "active":
                for trial in passive:
                    log.info("passive rule %s matched %s/%s code %s at %s (active: %s)", trial.id, facts.workflow, facts.step,
                             facts.exit_code, facts.site or "no site", rule.id)
                return rule, passive
            passive.append(rule)
        for trial in passive:
            log.info("passive rule %s matched %s/%s code %s at %s (no active rule)", trial.id, facts.workflow, facts.step,
                     facts.exit_code, facts.site or "no site")
        return None, passive

    def _matches(self, index: int, facts: ErrorFacts) -> bool:
        m = self.rules[index].match
        if m.step_type is not None and step_type(facts.step) != m.step_type:
            return False
        if m.exit_codes is not None and facts.exit_code not in m.exit_codes:
            return False
        if m.signature is not None and facts.signature != m.signature:
            return False
        patterns = self._patterns[index]
        texts = {"message": facts.message, "site": facts.site, "workflow": facts.workflow, "task": facts.task}
        return all(pattern.search(texts[name]) is not None for name, pattern in patterns.items())


def _where(location: Iterable[Any], loaded: Any) -> str:
    """`rules[3] (id 'x'): match.message` from a pydantic error location."""
    parts = list(location)
    if len(parts) >= 2 and parts[0] == "rules" and isinstance(parts[1], int):
        index = parts[1]
        rules = loaded.get("rules") if isinstance(loaded, dict) else None
        rule = rules[index] if isinstance(rules, list) and index < len(rules) else None
        named = f" (id {rule.get('id')!r})" if isinstance(rule, dict) and rule.get("id") else ""
        inner = parts[2:]
        if len(inner) >= 2 and inner[0] == "remedy" and inner[1] in REMEDIES:
            del inner[1]  # the union's tag (the action), not a field
        field = ".".join(str(p) for p in inner)
        return f"rules[{index}]{named}: {field or 'the rule'}"
    return ".".join(str(p) for p in parts) or "the file"


def parse_rules(text: str, origin: str) -> RuleSet:
    """A rules file's text, checked; ValueError names the rule (index, id) and the field of the first problems."""
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ValueError(f"rules file {origin}: not valid YAML ({error})") from None
    if not isinstance(loaded, dict):
        raise ValueError(f"rules file {origin}: expected a mapping with version and rules, got {type(loaded).__name__}")
    try:
        checked = RuleFile.model_validate(loaded)
    except ValidationError as error:
        problems = [f"{_where(e['loc'], loaded)}: {e['msg'].removeprefix('Value error, ')}" + (f" (got {e['input']!r})" if not isinstance(e["input"], (dict, list)) else "")
                    for e in error.errors()[:5]]
        raise ValueError(f"rules file {origin}: " + "; ".join(problems)) from None
    return RuleSet(checked, origin)


def load_rules(path: Path | None) -> RuleSet:
    """The rules file at `path`, or the shipped default rules (fwjr/data/triage_rules.yaml)."""
    if path is None:
        return default_rules()
    if not path.is_file():
        raise ValueError(f"rules file {path} (setting triage_rules_file) does not exist")
    return parse_rules(path.read_text(encoding="utf-8"), str(path))


@cache
def default_rules() -> RuleSet:
    return parse_rules(files("fwjr").joinpath("data", DEFAULT_RULES).read_text(encoding="utf-8"), f"fwjr/data/{DEFAULT_RULES}")
