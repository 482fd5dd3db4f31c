"""The alert rule: error-rate spikes per scope, judged on event time against an adaptive baseline.

Pure and deterministic: jobs (event time, site, workflow, exit code, failed) and status
events go in, fire/resolve decisions come out. The clock is event time (a watermark over the
FWJR timestamps), never the wall clock, so a rehearsal produced in seconds decides exactly what the live
incident would have (docs/alerting.md).

The rule, per scope (all jobs, each site, each workflow, each exit code):
- a minute is judged once the watermark passes its end. Each source (a partition of
  fwjr.raw) keeps its own newest event time; the watermark is the oldest of those, minus the
  allowed lateness, so a partition consumed ahead of the others does not make theirs late.
  Sources can be declared before they deliver (`expect`), so a partition not heard from yet
  holds the watermark back too. A source that delivered nothing for `idle_seconds` of the
  caller's clock (wall time, passed in; never without one) is idle and ignored until it
  delivers again; when the whole feed was quiet that long, the first delivery gives every
  source its idle time again (else that first source alone would drive the watermark). A job more than the allowed lateness older than the newest job before it
  in its own source is late: counted, left out of alerting (the store still has them).
  Since the watermark never passes a source's own newest time minus the lateness, no job
  that is not late can land in a minute already judged, so a decision never changes after
  it was made, and decisions are a function of event times and per-source order only, which
  a rehearsal reproduces (only an idle source's jobs can be late for another reason);
- a job is counted once: an identity already seen within the rule's horizon (the minutes
  not yet judged and the window before them) is a duplicate, counted in `duplicates` only;
- the window is the last `window_minutes` judged minutes; the baseline is the scope's own
  rolling failure rate over the `baseline_minutes` before the window, shrunk towards the
  global rate by `prior_jobs` pseudo-jobs, and it stops learning while the scope is part of
  an incident (so a long burst does not become the new normal);
- anomalous = an exact one-sided binomial test: the chance of at least this many failures
  at the baseline rate (raised by one standard error of the baseline itself) is below
  `max_p_value` (small, since hundreds of scopes are tested every minute), with at least
  `min_excess_failures` failures above
  expectation, a rate at least `min_ratio` times and `min_excess_rate` above the baseline,
  on a scope whose baseline holds `min_baseline_jobs`, or a site or workflow with at least
  `min_own_jobs` that borrows an empirical-Bayes prior from the global rate (`_rate`,
  fwjr/alerting/baseline.py);
- a site or workflow with fewer than `min_window_jobs` in the window is judged on a longer
  one, up to `long_window_minutes` (baseline.widen);
- grouping: an anomalous scope is drilled down to the narrower scope that holds at least
  `dominance` of its excess failures (all -> site/workflow/exit code -> site/workflow), so a
  burst at one site that also moves the global and exit-code rates is one incident, keyed
  by the site; a site and a workflow are drilled into each other the same way (a site burst
  moves the workflows it runs, a workflow bug moves the sites it runs at); the moved scopes
  are listed as members;
- an incident fires after `pending_minutes` consecutive anomalous minutes and resolves after
  `resolve_minutes` consecutive minutes without even a weak signal (a normal-approximation
  score, with the baseline's uncertainty in its variance, below `z_resolve`).
"""

from __future__ import annotations

import copy
import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from fwjr.alerting.baseline import Baseline, Scope, Score, prior_strength, widen
from fwjr.alerting.model import ALL, Alert, Decision, Outcome, RuleConfig, scope_label
from fwjr.alerting.status import OutageBook, StatusEvent
from fwjr.exit_codes import describe, procedure

_MINUTE = 60


def _holds_job(scope: Scope, site: str, workflow: str) -> bool:
    kind, value = scope
    return kind in ("all", "exit_code") or (kind == "site" and site == value) or (kind == "workflow" and workflow == value)


def _holds_failure(scope: Scope, site: str, workflow: str, code: int) -> bool:
    if scope[0] == "exit_code":
        return str(code) == scope[1]
    return _holds_job(scope, site, workflow)


@dataclass(slots=True)
class _Minute:
    """Counts of one event-time minute, keyed finely enough to drill down between scopes."""

    jobs: Counter = field(default_factory=Counter)  # (site, workflow) -> jobs
    fails: Counter = field(default_factory=Counter)  # (site, workflow, exit_code) -> failed jobs

    def scopes(self) -> dict[Scope, list[int]]:
        """(jobs, failures) per site, workflow and all; exit-code scopes get failures only."""
        counts: dict[Scope, list[int]] = {ALL: [0, 0]}
        for (site, workflow), n in self.jobs.items():
            for scope in (ALL, ("site", site), ("workflow", workflow)):
                counts.setdefault(scope, [0, 0])[0] += n
        for (site, workflow, code), k in self.fails.items():
            for scope in (ALL, ("site", site), ("workflow", workflow), ("exit_code", str(code))):
                counts.setdefault(scope, [0, 0])[1] += k
        return counts


@dataclass(slots=True)
class _Incident:
    root: Scope
    started: int
    streak: int = 0
    quiet: int = 0
    alert: Alert | None = None
    members: set = field(default_factory=set)


class AlertEngine:
    """Feed it outcomes and status events in any batches; it judges closed minutes as event time advances."""

    def __init__(self, config: RuleConfig | None = None) -> None:
        self.config = config or RuleConfig()
        self.outages = OutageBook()
        self.minutes: dict[int, _Minute] = {}
        self.closed: dict[int, dict[Scope, list[int]]] = {}
        self._raw_window: dict[int, _Minute] = {}
        self.baselines: dict[Scope, Baseline] = {}
        self.incidents: dict[Scope, _Incident] = {}
        self.newest = 0
        self.source_newest: dict[int, int] = {}
        self.source_heard: dict[int, float] = {}
        self.next_minute: int | None = None
        self.late = 0
        self.judged = 0
        self.duplicates = 0
        self.seen: set[str] = set()
        self.seen_minutes: dict[int, list[str]] = {}  # minute -> identities first seen in it

    # ------------------------------------------------------------------ input

    def expect(self, sources: Iterable[int], now: float) -> None:
        """Declare sources that exist before they deliver: each holds the watermark back until it
        delivers or stays silent for `idle_seconds` after `now`."""
        for source in sources:
            self.source_newest.setdefault(source, 0)
            self.source_heard.setdefault(source, now)

    def observe(self, outcomes: Iterable[Outcome], source: int = 0, now: float | None = None) -> None:
        """Count outcomes of one source into their event-time minutes; duplicates only into
        `duplicates`, late ones only into `late`. `now` is when they arrived (for idleness)."""
        newest = self.source_newest.get(source, 0)
        lateness = self.config.allowed_lateness
        seen = self.seen
        for outcome in outcomes:
            minute = outcome.ts - outcome.ts % _MINUTE
            if self.next_minute is None:
                self.next_minute = minute
            identity = outcome.identity
            if identity:
                if identity in seen:
                    self.duplicates += 1
                    continue
                seen.add(identity)
                self.seen_minutes.setdefault(minute, []).append(identity)
            if outcome.ts < newest - lateness or minute < self.next_minute:
                self.late += 1
                continue
            counts = self.minutes.get(minute)
            if counts is None:
                counts = self.minutes[minute] = _Minute()
            counts.jobs[(outcome.site, outcome.workflow)] += 1
            if outcome.failed:
                counts.fails[(outcome.site, outcome.workflow, outcome.exit_code)] += 1
            if outcome.ts > newest:
                newest = outcome.ts
        if now is not None:
            heard = self.source_heard
            if heard and now - max(heard.values()) >= self.config.idle_seconds:
                for known in heard:  # the whole feed was quiet: every source gets its idle time again
                    heard[known] = now
            heard[source] = now
        if newest:
            self.source_newest[source] = newest
            self.newest = max(self.newest, newest)

    def watermark(self, now: float | None = None) -> int:
        """Event time up to which every active source has (most likely) delivered.

        Without a clock no source is idle. When every source is idle, the quiet feed holds
        the watermark where the slowest of them left it.
        """
        idle = self.config.idle_seconds
        newest = self.source_newest
        active = [ts for s, ts in newest.items() if now is None or now - self.source_heard.get(s, now) < idle]
        return min(active or newest.values(), default=0) - self.config.allowed_lateness

    def observe_status(self, event: StatusEvent) -> None:
        """Record a service status event (outage windows are the suspected causes)."""
        self.outages.add(event)

    def advance(self, now: float | None = None) -> list[Decision]:
        """Judge every minute the watermark has passed; the decisions made, in event-time order."""
        if self.next_minute is None:
            return []
        watermark = self.watermark(now)
        span = (self.config.window_minutes + self.config.baseline_minutes) * _MINUTE
        decisions: list[Decision] = []
        while self.next_minute + _MINUTE <= watermark:
            upcoming = min(self.minutes, default=watermark - watermark % _MINUTE)
            if upcoming - self.next_minute > span and not self.incidents:
                self.next_minute = upcoming - span  # a long gap in the feed: skip its empty minutes
                continue
            decisions.extend(self._judge(self.next_minute))
            self.next_minute += _MINUTE
        self._forget_identities()
        return decisions

    def _forget_identities(self) -> None:
        """Identities older than the horizon: a copy of one of those is late whatever it is."""
        horizon = self.next_minute - self.config.window_minutes * _MINUTE
        for minute in [m for m in self.seen_minutes if m < horizon]:
            self.seen.difference_update(self.seen_minutes.pop(minute))

    # ------------------------------------------------------------------ one minute

    def _judge(self, minute: int) -> list[Decision]:
        cfg = self.config
        counts = self.minutes.pop(minute, _Minute())
        self.closed[minute] = counts.scopes()
        self._raw_window[minute] = counts
        window = list(range(minute - (cfg.window_minutes - 1) * _MINUTE, minute + _MINUTE, _MINUTE))
        for old in [m for m in self._raw_window if m < window[0]]:
            del self._raw_window[old]
        totals = self._window_totals(window)
        widened = widen(self.closed, minute, totals, cfg.window_minutes, cfg.long_window_minutes, cfg.min_window_jobs)
        scores = self._scores(totals, widened)
        strong = {s for s, sc in scores.items() if self._anomalous(sc)}
        weak = {s for s, sc in scores.items() if self._weak(sc)}
        decisions = self._step_incidents(minute, scores, strong, weak)
        self._learn(minute - (cfg.window_minutes - 1) * _MINUTE - _MINUTE, scores, weak)
        self.judged += 1
        return decisions

    def _window_totals(self, window: list[int]) -> dict[Scope, list[int]]:
        totals: dict[Scope, list[int]] = {}
        for minute in window:
            for scope, (jobs, failures) in self.closed.get(minute, {}).items():
                total = totals.setdefault(scope, [0, 0])
                total[0] += jobs
                total[1] += failures
        all_jobs = totals.get(ALL, [0, 0])[0]
        for scope, total in totals.items():
            if scope[0] == "exit_code":
                total[0] = all_jobs
        return totals

    def _rate(self, scope: Scope, global_rate: float, strength: dict[str, float], since: int | None = None) -> tuple[float, float, bool]:
        """(baseline rate, baseline weight in jobs, may alert) of a scope.

        A scope with an established baseline (`min_baseline_jobs` of its own) is shrunk towards
        the global rate by `prior_jobs` pseudo-jobs. A site or workflow with less history, but
        at least `min_own_jobs`, borrows from the global rate as an empirical-Bayes beta prior
        whose strength is what its established siblings' spread supports (`strength`): where
        sites fail at very different natural rates, the prior is weak and the scope's own
        jobs decide, with the wide uncertainty of a short history in the test (the baseline
        weight is its jobs plus that strength).
        """
        cfg = self.config
        base = self.baselines.get(scope)
        jobs, failures = (0, 0) if base is None else base.before(since) if since is not None else (base.jobs, base.failures)
        kind = scope[0]
        prior = cfg.prior_rate if scope == ALL else (0.0 if kind == "exit_code" else global_rate)
        established = jobs >= cfg.min_baseline_jobs
        pseudo = cfg.prior_jobs if established or kind not in strength else strength[kind]
        weight = jobs + pseudo
        borrowing = not established and kind in strength and jobs >= cfg.min_own_jobs
        return (failures + pseudo * prior) / weight, weight, established or borrowing

    def _scores(self, totals: dict[Scope, list[int]], widened: dict[Scope, tuple[int, list[int]]]) -> dict[Scope, Score]:
        all_base = self.baselines.get(ALL)
        global_rate = self._rate(ALL, 0.0, {})[0]
        strength: dict[str, float] = {}
        if all_base is not None and all_base.jobs >= self.config.min_baseline_jobs:  # a parent to borrow from
            cfg = self.config
            strength = {kind: prior_strength(self.baselines, kind, global_rate, cfg.min_baseline_jobs, cfg.prior_jobs)
                        for kind in ("site", "workflow")}
        scores = {}
        newest = self.next_minute if self.next_minute is not None else 0
        for scope, (jobs, failures) in totals.items():
            if jobs == 0:
                continue
            minutes, since = self.config.window_minutes, None
            if scope in widened:
                minutes, (jobs, failures) = widened[scope]
                since = newest - (minutes - 1) * _MINUTE
            rate, weight, warm = self._rate(scope, global_rate, strength, since)
            scores[scope] = Score.of(jobs, failures, rate, weight, warm, minutes)
        return scores

    def _anomalous(self, score: Score) -> bool:
        cfg = self.config
        return (
            score.warm
            and score.excess >= cfg.min_excess_failures
            and score.rate >= cfg.min_ratio * score.baseline
            and score.rate - score.baseline >= cfg.min_excess_rate
            and score.p_value() <= cfg.max_p_value
        )

    def _weak(self, score: Score) -> bool:
        cfg = self.config
        return score.z >= cfg.z_resolve and score.rate - score.baseline >= cfg.min_excess_rate / 2

    # ------------------------------------------------------------------ grouping

    def _children(self, scope: Scope, scores: dict[Scope, Score]) -> list[tuple[Scope, float]]:
        """(narrower scope, its excess failures inside `scope`) for the drill-down."""
        raw = self._raw_window.values()
        kind = scope[0]
        if kind == "all":
            return [(s, sc.excess) for s, sc in scores.items() if s[0] in ("site", "workflow", "exit_code")]
        if kind in ("site", "workflow"):
            return self._cross(scope, scores)
        code = int(scope[1])
        rate = scores[scope].baseline
        fails: Counter = Counter()
        jobs: Counter = Counter()
        for counts in raw:
            for (site, workflow, c), k in counts.fails.items():
                if c == code:
                    fails[("site", site)] += k
                    fails[("workflow", workflow)] += k
            for (site, workflow), n in counts.jobs.items():
                jobs[("site", site)] += n
                jobs[("workflow", workflow)] += n
        return [(s, fails[s] - jobs[s] * rate) for s in fails]

    def _cross(self, scope: Scope, scores: dict[Scope, Score]) -> list[tuple[Scope, float]]:
        """For a site, the workflows inside it (and the reverse), with the excess each holds.

        A workflow failing at one site, and a site failing in one workflow, are one incident:
        the narrower side is the root, and when each holds most of the other's excess the
        site is (a burst at a site hits whatever workflows it runs).
        """
        kind, value = scope
        other, mine = ("workflow", 0) if kind == "site" else ("site", 1)
        fails: Counter = Counter()
        jobs: Counter = Counter()
        for counts in self._raw_window.values():
            for key, k in counts.fails.items():
                if key[mine] == value:
                    fails[key[1 - mine]] += k
            for key, n in counts.jobs.items():
                if key[mine] == value:
                    jobs[key[1 - mine]] += n
        rate = scores[scope].baseline
        found = []
        for name, k in fails.items():
            theirs = scores.get((other, name))
            if theirs is None or theirs.excess <= 0:
                continue
            mutual = k - jobs[name] * theirs.baseline >= self.config.dominance * theirs.excess
            if mutual and kind == "site":
                continue
            found.append(((other, name), k - jobs[name] * rate))
        return found

    def _drill(self, scope: Scope, scores: dict[Scope, Score]) -> list[Scope]:
        """The path from an anomalous scope down to the narrowest scope that holds most of its excess."""
        path = [scope]
        while True:
            current = path[-1]
            excess = scores[current].excess
            if excess <= 0:
                return path
            best: tuple[float, int, Scope] | None = None
            for child, child_excess in self._children(current, scores):
                if child in path or not (child in scores and scores[child].warm and self._weak(scores[child])):
                    continue  # blame goes only to a scope with an established baseline that is itself elevated
                share = child_excess / excess
                if share < self.config.dominance:
                    continue
                rank = (share, 1 if child[0] in ("site", "workflow") else 0, child)
                if best is None or rank[1] > best[1] or (rank[1] == best[1] and rank[0] > best[0]) or (
                    rank[:2] == best[:2] and rank[2] < best[2]
                ):
                    best = rank
            if best is None:
                return path
            path.append(best[2])

    def _attribute(self, paths: list[list[Scope]], scores: dict[Scope, Score], test, adopt: bool = False) -> dict[Scope, set[Scope]]:
        """Incident root -> the scopes it explains.

        A path ends at its deepest node that is already an incident, else at its end. Then a
        root whose signal disappears once the jobs of an incident (or of a bigger root) are
        taken out is merged into that one: its anomaly is the other's failures seen again; and
        so, with `adopt` (anomalies, not weak signals), is a root already listed as a member of an
        open incident (a small scope judged on a widened window still holds the burst's failures
        after the incident's own window calmed).
        """
        roots: dict[Scope, set[Scope]] = {}
        for path in paths:
            known = [s for s in path if s in self.incidents]
            root = known[-1] if known else path[-1]
            roots.setdefault(root, set()).update(path)
        hosts = list(self.incidents) + sorted(
            (r for r in roots if r not in self.incidents), key=lambda r: (-scores[r].excess if r in scores else 0.0, r)
        )
        merged: dict[Scope, set[Scope]] = {}
        for root in hosts:
            if root not in roots:
                continue
            host = next((h for h in merged if self._explains(h, root, scores, test)), None)
            if host is None:
                host = next((h for h in self.incidents if h not in merged and h != root and self._explains(h, root, scores, test)), None)
            if host is None and adopt and root not in self.incidents:  # already one of an incident's moved scopes
                host = next((h for h, incident in self.incidents.items() if root in incident.members), None)
            if host is None:
                merged.setdefault(root, set()).update(roots[root])
            else:
                merged.setdefault(host, set()).update(roots[root] | {root})
        return merged

    def _explains(self, host: Scope, scope: Scope, scores: dict[Scope, Score], test) -> bool:
        """Whether `scope` stops passing `test` once the jobs and failures it shares with `host` are removed."""
        score = scores.get(scope)
        if score is None:
            return False
        jobs, failures = self._shared(host, scope)
        if failures == 0:
            return False
        rest = Score.of(score.jobs - jobs, score.failures - failures, score.baseline, score.weight, score.warm, score.minutes)
        return rest.jobs <= 0 or not test(rest)

    def _shared(self, first: Scope, second: Scope) -> tuple[int, int]:
        """(jobs, failures) in the window that belong to both scopes (an exit-code scope counts all jobs)."""
        jobs = failures = 0
        for counts in self._raw_window.values():
            for (site, workflow), n in counts.jobs.items():
                if _holds_job(first, site, workflow) and _holds_job(second, site, workflow):
                    jobs += n
            for (site, workflow, code), k in counts.fails.items():
                if _holds_failure(first, site, workflow, code) and _holds_failure(second, site, workflow, code):
                    failures += k
        return jobs, failures

    # ------------------------------------------------------------------ incidents

    def _step_incidents(self, minute: int, scores: dict[Scope, Score], strong: set, weak: set) -> list[Decision]:
        cfg = self.config
        end = minute + _MINUTE
        strong_roots = self._attribute([self._drill(s, scores) for s in sorted(strong)], scores, self._anomalous, adopt=True)
        weak_roots = self._attribute([self._drill(s, scores) for s in sorted(weak) if scores[s].excess > 0], scores, self._weak)
        decisions = []
        for root, members in strong_roots.items():
            incident = self.incidents.get(root)
            if incident is None:
                incident = self.incidents[root] = _Incident(root, minute)
            incident.streak += 1
            incident.quiet = 0
            incident.members |= members - {root}
        for root, members in weak_roots.items():
            if root in self.incidents:
                self.incidents[root].members |= members - {root}
        for root, incident in list(self.incidents.items()):
            if root in strong_roots:
                if incident.alert is None and incident.streak >= cfg.pending_minutes:
                    incident.alert = self._new_alert(incident, end, scores)
                    decisions.append(Decision("fire", copy.deepcopy(incident.alert)))
                continue
            if incident.alert is None:
                del self.incidents[root]
                continue
            if root in weak_roots:
                incident.quiet = 0
                continue
            incident.quiet += 1
            if incident.quiet >= cfg.resolve_minutes:
                alert = incident.alert
                alert.state = "resolved"
                alert.resolved = end
                alert.members = sorted(set(alert.members) | {scope_label(s) for s in incident.members})
                alert.evidence["suspected_causes"] = self._causes(incident.started, end)
                decisions.append(Decision("resolve", copy.deepcopy(alert)))
                del self.incidents[root]
        return decisions

    def _learn(self, minute: int, scores: dict[Scope, Score], weak: set) -> None:
        """The minute leaving the window joins each calm scope's baseline.

        A scope in an incident, or showing a weak signal once its baseline is established,
        does not learn (a burst must not become the new normal); a scope still warming up
        always learns, or a naturally failure-prone one would never get a baseline.
        """
        cfg = self.config
        counts = self.closed.get(minute)
        busy = {scope for scope in weak if scores[scope].warm}
        for incident in self.incidents.values():
            busy.add(incident.root)
            busy |= incident.members
        if counts is not None:
            all_jobs = counts.get(ALL, [0, 0])[0]
            known_codes = [s for s in self.baselines if s[0] == "exit_code"]
            for scope in set(counts) | set(known_codes):
                if scope in busy:
                    continue
                jobs, failures = counts.get(scope, (0, 0))
                if scope[0] == "exit_code":
                    jobs = all_jobs
                if jobs:
                    self.baselines.setdefault(scope, Baseline()).add(minute, jobs, failures)
        oldest = minute - cfg.baseline_minutes * _MINUTE
        for old in [m for m in self.closed if m < oldest - cfg.window_minutes * _MINUTE]:
            del self.closed[old]
        for scope in list(self.baselines):
            base = self.baselines[scope]
            base.trim(oldest + _MINUTE)
            if not base.entries:
                del self.baselines[scope]

    # ------------------------------------------------------------------ evidence

    def _new_alert(self, incident: _Incident, end: int, scores: dict[Scope, Score]) -> Alert:
        score = scores[incident.root]
        root = incident.root
        digest = hashlib.sha1(f"{root[0]}\x00{root[1]}\x00{incident.started}".encode()).hexdigest()[:16]
        return Alert(
            id=digest,
            scope=root[0],
            value=root[1],
            state="firing",
            started=incident.started,
            fired=end,
            resolved=None,
            evidence={
                "rate": round(score.rate, 6),
                "baseline": round(score.baseline, 6),
                "z": round(score.z, 2),
                "p_value": float(f"{score.p_value():.3g}"),
                "jobs": score.jobs,
                "failures": score.failures,
                "expected": round(score.expected, 2),
                "window_minutes": score.minutes,
                "top_exit_codes": self._top_codes(root),
                "suspected_causes": self._causes(incident.started, end),
            },
            members=sorted(scope_label(s) for s in incident.members),
        )

    def _top_codes(self, root: Scope) -> list[dict]:
        kind, value = root
        failures: Counter = Counter()
        for counts in self._raw_window.values():
            for (site, workflow, code), k in counts.fails.items():
                if kind == "all" or (kind == "site" and site == value) or (kind == "workflow" and workflow == value) or (
                    kind == "exit_code" and str(code) == value
                ):
                    failures[code] += k
        top = []
        for code, count in sorted(failures.items(), key=lambda item: (-item[1], item[0]))[: self.config.top_exit_codes]:
            steps = procedure(code)
            top.append(
                {
                    "exit_code": code,
                    "failures": count,
                    "description": describe(code),
                    "procedure": None if steps is None else {"cause": steps.cause, "normal": steps.normal},
                }
            )
        return top

    def _causes(self, start: int, end: int) -> list[dict]:
        """Outages overlapping the incident, from `window_minutes` before it started: the suspected causes."""
        since = start - self.config.window_minutes * _MINUTE
        return [o.as_dict(end) for o in self.outages.overlapping(since, end)]
