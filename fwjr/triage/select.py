"""Filters on decisions: which workflows a filtered triage lists, each with its whole decision.

A filter selects workflows; it does not narrow the evidence, so a workflow reads the same in the
queue whatever the filter, and a filtered view is a selection of the unfiltered triage (which the
board keeps as a snapshot, fwjr.triage.snapshot). A workflow is selected when:

- workflow: its name matches;
- task, site: it has failed jobs of a matching task at a matching site (both at once when both
  are given);
- exit_code: one of its step errors has a matching code (of the task and at the site given, if
  given), as its top exit codes count them;
- any other scope key (host, jobtype, campaign, ...): it has failed jobs matching all of those
  keys, and the task and site given (one store query, fwjr.store.evidence.failing_workflows).

Values are exact, or {"regex": pattern}: an re2 pattern searched anywhere in the value (an exit
code as its decimal text), as the store's match() does. fwjr.triage.report.triage, by contrast,
narrows the evidence by its filters: the decision of a workflow's jobs at one site only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from fwjr.config import Settings
from fwjr.store import evidence as store_evidence
from fwjr.store.connection import Store
from fwjr.triage.decide import Decision, Failing
from fwjr.triage.report import triage
from fwjr.triage.rules import compile_re2

DECISION_KEYS: tuple[str, ...] = ("workflow", "task", "site", "exit_code")
_PLACE_KEYS = ("task", "site")

Test = Callable[[Any], bool]


def select(store: Store, start: int, end: int, decisions: Iterable[Decision], filters: Mapping[str, Any] | None) -> list[Decision]:
    """The decisions (of the triage of [start, end)) of the workflows the filters select, in their order."""
    wanted = dict(filters or {})
    if not wanted:
        return list(decisions)
    others = {k: v for k, v in wanted.items() if k not in DECISION_KEYS}
    among = store_evidence.failing_workflows(store, start, end, {**others, **{k: wanted[k] for k in _PLACE_KEYS if k in wanted}}) if others else None
    return selected(decisions, {k: v for k, v in wanted.items() if k in DECISION_KEYS}, among)


def selected(decisions: Iterable[Decision], filters: Mapping[str, Any], among: set[str] | None = None) -> list[Decision]:
    """The decisions the DECISION_KEYS filters select, and only of the workflows `among` when given."""
    unknown = sorted(set(filters) - set(DECISION_KEYS))
    if unknown:
        raise ValueError(f"filter {unknown[0]!r} is not one the decisions carry; expected one of {', '.join(DECISION_KEYS)}")
    tests = {key: _test(key, value) for key, value in filters.items()}
    return [d for d in decisions if (among is None or d.workflow in among) and _matches(d, tests)]


def _matches(decision: Decision, tests: Mapping[str, Test]) -> bool:
    if "workflow" in tests and not tests["workflow"](decision.workflow):
        return False
    failing = decision.failing or Failing(frozenset(), frozenset())
    task, site = tests.get("task"), tests.get("site")
    if "exit_code" in tests:
        code = tests["exit_code"]
        return any((task is None or task(t)) and (site is None or site(s)) and code(c) for t, s, c in failing.errors)
    if task is not None or site is not None:
        return any((task is None or task(t)) and (site is None or site(s)) for t, s in failing.places)
    return True


def _test(key: str, wanted: Any) -> Test:
    """One filter value as a test on a value of its key."""
    if isinstance(wanted, Mapping):
        if set(wanted) != {"regex"}:
            raise ValueError(f"filter {key}={dict(wanted)!r}: expected an exact value or {{'regex': ...}}")
        return _searching(key, str(wanted["regex"]))
    if key == "exit_code":
        try:
            code = int(wanted)
        except (TypeError, ValueError):
            raise ValueError(f"filter exit_code={wanted!r}: expected a whole number") from None
        return lambda value: value == code
    text = str(wanted)
    return lambda value: value == text


def _searching(key: str, pattern: str) -> Test:
    compiled = compile_re2(pattern, f"filter {key}: pattern")
    return lambda value: compiled.search(str(value)) is not None


def triage_selected(
    store: Store, start: int, end: int, filters: Mapping[str, Any] | None = None, settings: Settings | None = None, now: int | None = None,
) -> list[Decision]:
    """The decisions of the workflows `filters` select in [start, end), computed for this request
    (a custom range, the CLI): the triage narrowed by the workflow filter alone, which leaves each
    workflow's decision as the unfiltered triage has it (the site status and the usual rates are
    read over every workflow), then selected. Its `similar` and `group` look among the workflows
    the workflow filter matches only."""
    wanted = dict(filters or {})
    narrowed = {"workflow": wanted["workflow"]} if "workflow" in wanted else None
    return select(store, start, end, triage(store, start, end, narrowed, settings=settings, now=now), wanted)
