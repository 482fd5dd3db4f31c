"""Suggested actions, learnt from what operators did about past error patterns.

The evidence contract: when an operator submits an action, the board stores in
`Action.evidence` what the operator saw (every key may be missing):

    {"pattern": [{"exit_code": 8021, "site": "T2_CH_CERN", "step": "cmsRun1", "count": 40}, ...],
     "verdict": "retry" | "site" | "resources" | "debug" | "watch",
     "remedy": "...", "rule": "rule id or ''", ...}

`pattern` holds the workflow's step-error counts (exit code x site x step) in the window shown.
In an entry a missing or empty site or step counts as unknown ("?") and a missing count as 1;
the exit code must be there. Other keys are kept for the record and ignored here.

What it learns from: actions in state acted or pending whose evidence has a non-empty pattern.
Superseded actions are left out: the operator replaced them with another decision before the
executor acted, so they are the decision the operator took back. Pending ones count: they are
the operator's standing decision, only not carried out yet. One submission for several
workflows (the similar workflows ticked with it) stores one action per workflow with the same
evidence; it is one decision, so it is one example. Evidence that cannot be read is counted and
named in the training report, never dropped unseen.

Features (a DictVectorizer): shares of the pattern's failures per exit code, per step, per exit
code x step, per site tier (T0..T3) and per site, the share of the largest exit code and of the
largest site (how concentrated it is), and the verdict when given. Shares, not counts: a
workflow failing 40 jobs and one failing 4,000 the same way call for the same action. The
classifier is a multinomial logistic regression: few examples, sparse features, and
probabilities that mean something for the confidence threshold.

Evaluation: the decisions ordered by submission time, trained on the older 80%, scored on the
newest 20% (the model must predict the future from the past), against the baseline of always
answering the training part's most frequent action. The stored model is the same pipeline
refitted on all decisions; its metadata keeps the held-out figures.

Silence: `suggest` answers None when there is no model, when it cannot be read, when the
history it learnt from is too little for the current thresholds (FWJR_SUGGEST_MIN_ACTIONS,
FWJR_SUGGEST_MIN_EXAMPLES, FWJR_SUGGEST_MIN_KINDS), when it did not beat its baseline on
held-out history, and when its top action's probability is below FWJR_SUGGEST_MIN_CONFIDENCE.

The model file, `$FWJR_HOME/action_model.joblib`, is a joblib pickle: loading it runs code from
it, which is acceptable only because it is our own file in our own home, written by `fwjr
actions train` with mode 0600. A file owned by another user or writable by group or others is
refused, as is one written by another scikit-learn version; a missing or damaged file means no
suggestion with the reason logged, never an exception.
"""

from __future__ import annotations

import logging
import math
import os
import re
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import joblib
import orjson
import sklearn
from sklearn.exceptions import InconsistentVersionWarning
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sqlalchemy import select
from sqlalchemy.orm import Session

from fwjr.config import Settings
from fwjr.ops.actions import ACTED, PENDING
from fwjr.ops.models import Action, utcnow
from fwjr.triage.decide import VERDICTS

log = logging.getLogger("fwjr.ops.suggestions")

LEARNT_STATES = (ACTED, PENDING)
HELD_OUT_SHARE = 0.2
MODEL_FILE = "action_model.joblib"
FORMAT = 1
UNKNOWN = "?"
MAX_LABEL = 300
TIER = re.compile(r"^(T[0-3])_")
SHOWN_PROBLEMS = 5

Entry = tuple[int, str, str, float]


class InvalidPattern(ValueError):
    """An error pattern or verdict that cannot be read; the message names the entry and its value."""


@dataclass(frozen=True)
class Suggestion:
    """The learnt model's action for a pattern, with how sure it is and how good it proved."""

    action: str
    confidence: float
    trained_at: datetime
    accuracy: float  # on the held-out newest decisions
    baseline: float  # the most frequent action's accuracy on the same decisions


def parse_pattern(value: Any, origin: str = "pattern") -> list[Entry]:
    """The pattern's entries as (exit code, site, step, count), zero counts left out; InvalidPattern names a bad entry."""
    if not isinstance(value, list):
        raise InvalidPattern(f"{origin}={value!r:.200}: expected a list of {{exit_code, site, step, count}} objects")
    entries = []
    for index, entry in enumerate(value):
        where = f"{origin}[{index}]"
        if not isinstance(entry, dict):
            raise InvalidPattern(f"{where}={entry!r:.200}: expected an object {{exit_code, site, step, count}}")
        code = entry.get("exit_code")
        if isinstance(code, str) and re.fullmatch(r"-?\d{1,12}", code.strip()):
            code = int(code)
        if isinstance(code, bool) or not isinstance(code, int):
            raise InvalidPattern(f"{where}.exit_code={code!r:.100}: expected a whole number")
        count = entry.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, (int, float)) or not math.isfinite(count) or count < 0:
            raise InvalidPattern(f"{where}.count={count!r:.100}: expected a number of failures, at least 0")
        if count:
            entries.append((code, _label(entry, "site", where), _label(entry, "step", where), float(count)))
    return entries


def _label(entry: dict[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if value is None or value == "":
        return UNKNOWN
    if not isinstance(value, str) or len(value) > MAX_LABEL:
        raise InvalidPattern(f"{where}.{key}={value!r:.100}: expected a name of at most {MAX_LABEL} characters")
    return value


def parse_verdict(value: Any, origin: str = "verdict") -> str | None:
    """The triage verdict, or None when not given; InvalidPattern for anything that is not one."""
    if value is None or value == "":
        return None
    if value not in VERDICTS:
        raise InvalidPattern(f"{origin}={value!r:.100}: expected one of {', '.join(VERDICTS)}")
    return value


def features(entries: list[Entry], verdict: str | None) -> dict[str, float]:
    """The normalised features of a non-empty pattern (see the module's docstring)."""
    total = sum(count for *_, count in entries)
    shares: dict[str, float] = defaultdict(float)
    codes: dict[int, float] = defaultdict(float)
    sites: dict[str, float] = defaultdict(float)
    for code, site, step, count in entries:
        share = count / total
        codes[code] += share
        sites[site] += share
        shares[f"step={step}"] += share
        shares[f"code_step={code}|{step}"] += share
        tier = TIER.match(site)
        shares[f"tier={tier.group(1) if tier else UNKNOWN}"] += share
    shares.update({f"code={code}": share for code, share in codes.items()})
    shares.update({f"site={site}": share for site, share in sites.items()})
    shares["top_code_share"] = max(codes.values())
    shares["top_site_share"] = max(sites.values())
    if verdict is not None:
        shares[f"verdict={verdict}"] = 1.0
    return dict(shares)


@dataclass(frozen=True)
class Example:
    action: str
    features: dict[str, float]


@dataclass
class History:
    """The decisions to learn from, oldest first, and what was read but could not be used."""

    examples: list[Example] = field(default_factory=list)
    read: int = 0  # acted or pending actions
    without_pattern: int = 0
    merged: int = 0  # further workflows of a submission already counted
    unreadable: list[str] = field(default_factory=list)

    @property
    def per_action(self) -> Counter[str]:
        return Counter(example.action for example in self.examples)


def history(session: Session) -> History:
    """The acted and pending actions with a readable, non-empty pattern, one per submission, by submission time."""
    found = History()
    seen: set[tuple[Any, ...]] = set()
    rows = session.execute(
        select(Action.id, Action.account_id, Action.submitted, Action.action, Action.evidence)
        .where(Action.state.in_(LEARNT_STATES)).order_by(Action.submitted, Action.id)
    )
    for action_id, account_id, submitted, kind, evidence in rows:
        found.read += 1
        if evidence is None or (isinstance(evidence, dict) and not evidence.get("pattern")):
            found.without_pattern += 1
            continue
        try:
            if not isinstance(evidence, dict):
                raise InvalidPattern(f"evidence={evidence!r:.100}: expected an object")
            entries = parse_pattern(evidence["pattern"], "evidence.pattern")
            verdict = parse_verdict(evidence.get("verdict"), "evidence.verdict")
        except InvalidPattern as error:
            found.unreadable.append(f"action {action_id} ({kind}): {error}")
            continue
        if not entries:
            found.without_pattern += 1
            continue
        submission = (account_id, submitted, kind, orjson.dumps(evidence, option=orjson.OPT_SORT_KEYS))
        if submission in seen:
            found.merged += 1
            continue
        seen.add(submission)
        found.examples.append(Example(kind, features(entries, verdict)))
    return found


def shortfall(decisions: int, per_action: dict[str, int], settings: Settings) -> str | None:
    """Why this history is too little to learn from or to suggest with, or None when it suffices."""
    if decisions < settings.suggest_min_actions:
        return (f"{decisions} past decisions with an error pattern, fewer than the {settings.suggest_min_actions} needed "
                "(FWJR_SUGGEST_MIN_ACTIONS)")
    kinds = sorted(kind for kind, count in per_action.items() if count >= settings.suggest_min_examples)
    if len(kinds) < settings.suggest_min_kinds:
        return (f"{len(kinds)} actions ({', '.join(kinds) or 'none'}) with at least {settings.suggest_min_examples} decisions "
                f"each (FWJR_SUGGEST_MIN_EXAMPLES), fewer than the {settings.suggest_min_kinds} needed (FWJR_SUGGEST_MIN_KINDS)")
    return None


def pipeline() -> Pipeline:
    """The features' vectoriser and the classifier, untrained.

    scikit-learn's default regularisation (C=1): on the tests' histories its mean held-out
    confidence (0.89-0.92) was closest to its held-out accuracy (0.89-0.98); a weaker one
    (C=4, 16) was more confident for no more accuracy, and the confidence threshold relies on it.
    """
    return make_pipeline(DictVectorizer(), LogisticRegression(max_iter=2000))


@dataclass(frozen=True)
class Evaluation:
    """The pipeline trained on the older decisions and scored on the newest ones."""

    trained_on: int
    held_out: int
    accuracy: float
    baseline: float
    baseline_action: str
    per_action: dict[str, dict[str, int]]  # action -> {"train", "held_out", "right"}


def evaluate(examples: list[Example]) -> Evaluation | str:
    """The time-ordered held-out evaluation of oldest-first examples, or why there is none."""
    held_out = max(1, round(len(examples) * HELD_OUT_SHARE))
    older, newest = examples[:-held_out], examples[-held_out:]
    counts = Counter(example.action for example in older)
    if len(counts) < 2:
        return f"the older {len(older)} decisions are all {next(iter(counts), 'none')}: nothing to tell apart"
    fitted = pipeline().fit([e.features for e in older], [e.action for e in older])
    predicted = fitted.predict([e.features for e in newest])
    baseline_action = counts.most_common(1)[0][0]
    per_action: dict[str, dict[str, int]] = defaultdict(lambda: {"train": 0, "held_out": 0, "right": 0})
    for example in older:
        per_action[example.action]["train"] += 1
    for example, answer in zip(newest, predicted):
        per_action[example.action]["held_out"] += 1
        per_action[example.action]["right"] += int(answer == example.action)
    right = sum(row["right"] for row in per_action.values())
    return Evaluation(
        trained_on=len(older), held_out=len(newest), accuracy=right / len(newest),
        baseline=sum(e.action == baseline_action for e in newest) / len(newest), baseline_action=baseline_action,
        per_action=dict(sorted(per_action.items())),
    )


@dataclass(frozen=True)
class TrainReport:
    """What training read, how the model did on held-out history, and where it went; or why it did not train."""

    history: History
    evaluation: Evaluation | None
    reason: str | None  # why no model was stored; None when one was
    path: Path | None

    @property
    def trained(self) -> bool:
        return self.reason is None

    def lines(self) -> list[str]:
        """The report for a person, one line each."""
        found = self.history
        lines = [
            f"read {found.read} acted or pending actions: {len(found.examples)} decisions with an error pattern, "
            f"{found.merged} more workflows of the same submissions, {found.without_pattern} without a pattern, "
            f"{len(found.unreadable)} unreadable"
        ]
        lines += [f"  unreadable: {problem}" for problem in found.unreadable[:SHOWN_PROBLEMS]]
        if len(found.unreadable) > SHOWN_PROBLEMS:
            lines.append(f"  ... and {len(found.unreadable) - SHOWN_PROBLEMS} more")
        if self.evaluation is not None:
            done = self.evaluation
            lines.append(f"held out the newest {done.held_out}, trained on the older {done.trained_on}: "
                         f"accuracy {done.accuracy:.3f}, baseline {done.baseline:.3f} (always {done.baseline_action})")
            lines += [f"  {kind}: {row['train']} trained on, {row['right']} of {row['held_out']} held out right"
                      for kind, row in done.per_action.items()]
        else:
            lines += [f"  {kind}: {count}" for kind, count in sorted(found.per_action.items())]
        lines.append(f"stored {self.path} (refitted on all {len(found.examples)} decisions)" if self.trained
                     else f"not trained: {self.reason}")
        return lines


def model_path(settings: Settings) -> Path:
    return settings.home / MODEL_FILE


def train(session: Session, settings: Settings) -> TrainReport:
    """Learn from the database's history, evaluate on its newest fifth, and store the model under home.

    Nothing is stored (an older model is left as it is) when the history is too little or
    cannot be evaluated; the report says why.
    """
    found = history(session)
    reason = shortfall(len(found.examples), found.per_action, settings)
    if reason is not None:
        return TrainReport(found, None, reason, None)
    evaluation = evaluate(found.examples)
    if isinstance(evaluation, str):
        return TrainReport(found, None, evaluation, None)
    fitted = pipeline().fit([e.features for e in found.examples], [e.action for e in found.examples])
    meta = {
        "trained_at": utcnow().isoformat(), "decisions": len(found.examples), "per_action": dict(found.per_action),
        "trained_on": evaluation.trained_on, "held_out": evaluation.held_out, "accuracy": evaluation.accuracy,
        "baseline": evaluation.baseline, "baseline_action": evaluation.baseline_action,
        "classes": [str(kind) for kind in fitted.classes_], "sklearn": sklearn.__version__,
    }
    path = model_path(settings)
    _write(path, {"format": FORMAT, "meta": meta, "pipeline": fitted})
    return TrainReport(found, evaluation, None, path)


def _write(path: Path, stored: dict[str, Any]) -> None:
    """Replace the model file at once (readers see the old or the new one), readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        joblib.dump(stored, out)
    os.replace(partial, path)


@dataclass(frozen=True)
class Model:
    pipeline: Pipeline
    meta: dict[str, Any]


# path -> (the file's identity when read, the model or None, why not); a retrain replaces the
# file, which changes its identity, so the board picks up a new model without a restart.
_loaded: dict[Path, tuple[tuple[int, int, int] | None, Model | None, str]] = {}


def load(settings: Settings) -> tuple[Model | None, str]:
    """The stored model, or None and why (logged once per state of the file)."""
    path = model_path(settings)
    try:
        status = path.stat()
    except FileNotFoundError:
        identity, status = None, None
    except OSError as error:
        return None, f"{path}: {error}"
    if status is not None:
        identity = (status.st_ino, status.st_mtime_ns, status.st_size)
    cached = _loaded.get(path)
    if cached is not None and cached[0] == identity:
        return cached[1], cached[2]
    model, reason = _read(path, status)
    if model is None:
        log.warning("no suggested actions: %s", reason)
    _loaded[path] = (identity, model, reason)
    return model, reason


def _read(path: Path, status: os.stat_result | None) -> tuple[Model | None, str]:
    if status is None:
        return None, f"no model at {path}: train one with `fwjr actions train`"
    if status.st_uid != os.geteuid() or status.st_mode & 0o022:
        return None, (f"{path} is owned by uid {status.st_uid} with mode {status.st_mode & 0o777:o}: a model file runs code "
                      "when loaded, so it must be this user's and writable by no one else; train again")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InconsistentVersionWarning)
            stored = joblib.load(path)
    except Exception as error:  # noqa: BLE001 (unpickling damaged bytes can raise nearly any exception)
        return None, f"{path} cannot be read ({type(error).__name__}: {error}); train again with `fwjr actions train`"
    if not isinstance(stored, dict) or stored.get("format") != FORMAT or not isinstance(stored.get("meta"), dict) \
            or not isinstance(stored.get("pipeline"), Pipeline):
        return None, f"{path} is not a model file of this version of fwjr; train again"
    meta = stored["meta"]
    if meta.get("sklearn") != sklearn.__version__:
        return None, f"{path} was trained with scikit-learn {meta.get('sklearn')}, this is {sklearn.__version__}; train again"
    return Model(stored["pipeline"], meta), f"trained at {meta['trained_at']}"


def advise(settings: Settings, pattern: Any, verdict: Any = None) -> tuple[Suggestion | None, str]:
    """The suggestion for this pattern (the evidence contract's `pattern` and `verdict`), or None and why.

    InvalidPattern when the pattern or verdict cannot be read, whether or not a model exists.
    """
    entries = parse_pattern(pattern)
    given = parse_verdict(verdict)
    model, reason = load(settings)
    if model is None:
        return None, reason
    meta = model.meta
    short = shortfall(meta["decisions"], meta["per_action"], settings)
    if short is not None:
        return None, f"the model learnt from too little history: {short}"
    if meta["accuracy"] <= meta["baseline"]:
        return None, (f"the model did no better than always answering {meta['baseline_action']} on held-out history "
                      f"(accuracy {meta['accuracy']:.3f}, baseline {meta['baseline']:.3f})")
    if not entries:
        return None, "the pattern has no failures to go on"
    probabilities = model.pipeline.predict_proba([features(entries, given)])[0]
    best = int(probabilities.argmax())
    action, confidence = str(model.pipeline.classes_[best]), float(probabilities[best])
    if confidence < settings.suggest_min_confidence:
        return None, f"not confident: {action} at {confidence:.2f}, below {settings.suggest_min_confidence} (FWJR_SUGGEST_MIN_CONFIDENCE)"
    suggestion = Suggestion(action, confidence, datetime.fromisoformat(meta["trained_at"]), meta["accuracy"], meta["baseline"])
    return suggestion, f"{action} at {confidence:.2f}"


def suggest(settings: Settings, pattern: Any, verdict: Any = None) -> Suggestion | None:
    """The action the learnt model suggests for this pattern, or None when it should stay silent (see `advise`)."""
    return advise(settings, pattern, verdict)[0]
