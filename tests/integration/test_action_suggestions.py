"""Suggested actions learnt from a history of real submissions, on SQLite and on a real PostgreSQL.

The history is synthetic but shaped like production: memory-exhaustion codes everywhere ->
more-memory, wall-clock kills -> more-wallclock, file-read errors concentrated at one site ->
sites, stage-out errors thinly spread -> acdc, a code crash in one step at every site ->
kill-and-clone; each pattern with unrelated errors beside it, and some operators choosing
differently from the rest.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from fwjr.config import Settings
from fwjr.ops import accounts, actions, suggestions
from fwjr.ops.database import session
from fwjr.ops.migrate import upgrade
from fwjr.ops.models import Action, utcnow
from fwjr.ops.suggestions import InvalidPattern
from tests.fixtures.postgres import ops_url, postgres_server  # noqa: F401  (fixtures)

SITES = ["T1_US_FNAL", "T1_DE_KIT", "T1_IT_CNAF", "T2_CH_CERN", "T2_US_Wisconsin", "T2_DE_DESY", "T2_IT_Pisa",
         "T2_FR_IPHC", "T2_UK_London_IC", "T3_US_Colorado"]
STEPS = ["cmsRun1", "cmsRun2", "stageOut1", "logArch1"]
NOISE_CODES = [8020, 8006, 134, 139, 50115, 71104, 99999]
# action -> (share of the history, the verdict triage gives, what a case looks like)
KINDS: dict[str, tuple[float, str]] = {
    "more-memory": (0.30, "resources"),
    "sites": (0.22, "site"),
    "acdc": (0.20, "retry"),
    "kill-and-clone": (0.16, "debug"),
    "more-wallclock": (0.12, "resources"),
}
PARAMETERS = {
    "more-memory": {"amount": 4000}, "more-wallclock": {"amount": 2880}, "sites": {"sites": ["T1_US_FNAL", "T2_CH_CERN"]},
    "acdc": {}, "kill-and-clone": {}, "split": {"factor": 2},
}
# How often an operator picks another action than the one the pattern calls for.
LABEL_NOISE = 0.08


def pattern_for(kind: str, draw: random.Random) -> list[dict[str, Any]]:
    """A workflow's error counts (exit code x site x step) when it needs `kind`, with unrelated errors beside."""
    entries: list[dict[str, Any]] = []

    def add(code: int, site: str, step: str, count: int) -> None:
        entries.append({"exit_code": code, "site": site, "step": step, "count": count})

    if kind == "more-memory":
        for site in draw.sample(SITES, draw.randint(3, 7)):
            add(draw.choice([50660, 50660, 8028]), site, "cmsRun1", draw.randint(5, 80))
    elif kind == "more-wallclock":
        for site in draw.sample(SITES, draw.randint(3, 7)):
            add(draw.choice([50664, 50664, 71]), site, draw.choice(["cmsRun1", "cmsRun2"]), draw.randint(5, 60))
    elif kind == "sites":
        bad = draw.choice(SITES)
        for code in draw.sample([8021, 60311, 8028], 2):
            add(code, bad, "cmsRun1" if code != 60311 else "stageOut1", draw.randint(20, 200))
        add(8021, draw.choice(SITES), "cmsRun1", draw.randint(1, 4))
    elif kind == "acdc":
        for site in draw.sample(SITES, draw.randint(5, 9)):
            add(draw.choice([60311, 60307, 99109]), site, "stageOut1", draw.randint(1, 12))
    elif kind == "kill-and-clone":
        step = draw.choice(["cmsRun1", "cmsRun2"])
        for site in draw.sample(SITES, draw.randint(5, 10)):
            add(draw.choice([8001, 8001, 65]), site, step, draw.randint(5, 50))
    for _ in range(draw.randint(0, 3)):
        add(draw.choice(NOISE_CODES), draw.choice(SITES), draw.choice(STEPS), draw.randint(1, 6))
    return entries


def build_history(url: str, count: int, seed: int = 17, kinds: dict[str, tuple[float, str]] = KINDS, start: int = 0) -> list[str]:
    """Submit `count` decisions through fwjr.ops.actions.submit by two operators; answers the actions in order."""
    draw = random.Random(seed)
    names, weights = list(kinds), [share for share, _ in kinds.values()]
    chosen = []
    with session(url) as opened:
        operators = [accounts.find(opened, name) or accounts.create(opened, name, role="operator") for name in ("ana", "bo")]
        for index in range(start, start + count):
            kind = draw.choices(names, weights)[0]
            evidence = {"pattern": pattern_for(kind, draw), "verdict": kinds[kind][1], "remedy": kind, "rule": ""}
            taken = draw.choice(names) if draw.random() < LABEL_NOISE else kind
            submission = actions.parse_submission({
                "workflows": [f"pdmvserv_task_{index}"], "action": taken, "parameters": PARAMETERS[taken],
                "reasons": [{"short": "from the pattern"}], "evidence": evidence,
            })
            actions.submit(opened, submission, operators[index % 2])
            chosen.append(taken)
    return chosen


def settings_for(url: str, home: Path, **overrides: Any) -> Settings:
    return Settings(home=home, ops_database_url=url, **overrides)


@pytest.fixture
def trained(ops_url: str, tmp_path: Path) -> tuple[Settings, suggestions.TrainReport, list[str]]:
    upgrade(ops_url)
    chosen = build_history(ops_url, 220)
    settings = settings_for(ops_url, tmp_path / "home")
    with session(ops_url) as opened:
        report = suggestions.train(opened, settings)
    return settings, report, chosen


def test_the_model_beats_the_majority_baseline_on_the_newest_fifth(trained: tuple[Settings, suggestions.TrainReport, list[str]]) -> None:
    settings, report, chosen = trained
    assert report.trained, report.lines()
    evaluation = report.evaluation
    assert (evaluation.trained_on, evaluation.held_out) == (176, 44)
    newest = Counter(chosen[-44:])
    assert {kind: row["held_out"] for kind, row in evaluation.per_action.items() if row["held_out"]} == newest
    assert evaluation.baseline_action == Counter(chosen[:176]).most_common(1)[0][0]
    assert evaluation.baseline == pytest.approx(newest[evaluation.baseline_action] / 44)
    assert evaluation.accuracy >= evaluation.baseline + 0.4, report.lines()
    assert "accuracy" in "\n".join(report.lines()) and f"baseline {evaluation.baseline:.3f}" in "\n".join(report.lines())


def test_the_held_out_decisions_are_the_newest_by_submission_time_not_by_id(ops_url: str, tmp_path: Path) -> None:
    upgrade(ops_url)
    chosen = build_history(ops_url, 60)
    with session(ops_url) as opened:
        now = utcnow()
        for age, action_id in enumerate(opened.scalars(select(Action.id).order_by(Action.id)).all()):
            opened.execute(update(Action).where(Action.id == action_id).values(submitted=now - timedelta(hours=age)))
    with session(ops_url) as opened:
        report = suggestions.train(opened, settings_for(ops_url, tmp_path / "home"))
    assert report.trained, report.lines()
    newest_by_time, newest_by_id = Counter(chosen[:12]), Counter(chosen[-12:])
    assert newest_by_time != newest_by_id
    assert {kind: row["held_out"] for kind, row in report.evaluation.per_action.items() if row["held_out"]} == newest_by_time


def test_clear_patterns_get_their_action_with_the_models_figures(trained: tuple[Settings, suggestions.TrainReport, list[str]]) -> None:
    settings, report, _ = trained
    draw = random.Random(99)
    for kind, (_, verdict) in KINDS.items():
        suggestion = suggestions.suggest(settings, pattern_for(kind, draw), verdict)
        assert suggestion is not None and suggestion.action == kind, kind
        assert settings.suggest_min_confidence <= suggestion.confidence <= 1
        assert suggestion.accuracy == report.evaluation.accuracy and suggestion.baseline == report.evaluation.baseline
        assert suggestion.trained_at.tzinfo is not None


def test_an_ambiguous_pattern_gets_no_suggestion_and_says_it_is_not_confident(
    trained: tuple[Settings, suggestions.TrainReport, list[str]],
) -> None:
    settings, _, _ = trained
    mixed = [{"exit_code": 50660, "site": "T2_CH_CERN", "step": "cmsRun1", "count": 30},
             {"exit_code": 8001, "site": "T1_DE_KIT", "step": "cmsRun2", "count": 30},
             {"exit_code": 60311, "site": "T2_IT_Pisa", "step": "stageOut1", "count": 30}]
    suggestion, why = suggestions.advise(settings, mixed)
    assert suggestion is None and "not confident" in why
    assert suggestions.suggest(settings, mixed) is None
    assert suggestions.suggest(settings, mixed[:1], "resources") is not None  # the same model answers a clear one


def test_too_little_history_trains_nothing_says_why_and_suggests_nothing(ops_url: str, tmp_path: Path) -> None:
    upgrade(ops_url)
    build_history(ops_url, 30)
    settings = settings_for(ops_url, tmp_path / "home")
    with session(ops_url) as opened:
        report = suggestions.train(opened, settings)
    assert not report.trained and report.path is None
    assert "30 past decisions with an error pattern, fewer than the 50 needed" in report.reason
    assert not suggestions.model_path(settings).exists()
    assert suggestions.suggest(settings, pattern_for("more-memory", random.Random(1)), "resources") is None


def test_one_action_with_enough_examples_is_too_little_to_tell_apart(ops_url: str, tmp_path: Path) -> None:
    upgrade(ops_url)
    build_history(ops_url, 60, kinds={"more-memory": (0.97, "resources"), "sites": (0.03, "site")})
    settings = settings_for(ops_url, tmp_path / "home", suggest_min_examples=10)
    with session(ops_url) as opened:
        report = suggestions.train(opened, settings)
    assert not report.trained
    assert "1 actions (more-memory) with at least 10 decisions" in report.reason


def test_a_model_trained_under_lower_thresholds_is_silent_under_higher_ones(trained: tuple[Settings, suggestions.TrainReport, list[str]]) -> None:
    settings, _, _ = trained
    stricter = settings.model_copy(update={"suggest_min_actions": 500})
    suggestion, why = suggestions.advise(stricter, pattern_for("more-memory", random.Random(3)), "resources")
    assert suggestion is None and "220 past decisions" in why and "500 needed" in why


def test_only_acted_and_pending_decisions_with_a_pattern_count_once_per_submission(ops_url: str, tmp_path: Path) -> None:
    upgrade(ops_url)
    with session(ops_url) as opened:
        ana = accounts.create(opened, "ana", role="operator")
        memory = {"pattern": [{"exit_code": 50660, "site": "T2_CH_CERN", "step": "cmsRun1", "count": 9}]}

        def send(workflows: list[str], kind: str, evidence: dict[str, Any]) -> None:
            body = {"workflows": workflows, "action": kind, "parameters": PARAMETERS[kind], "reasons": [{"short": "x"}], "evidence": evidence}
            actions.submit(opened, actions.parse_submission(body), ana)

        send(["wf_a"], "acdc", memory)  # superseded by the next one for wf_a
        send(["wf_a", "wf_b", "wf_c"], "more-memory", memory)  # one decision for three workflows
        send(["wf_d"], "kill-and-clone", {})
        send(["wf_e"], "sites", {"pattern": [], "verdict": "site"})
        send(["wf_f"], "acdc", {"pattern": [{"exit_code": "lots", "count": 3}]})
        send(["wf_g"], "acdc", {"pattern": [{"exit_code": 60311}], "verdict": "retry"})  # no site, step or count
        actions.report(opened, ["wf_g"], ana)
    with session(ops_url) as opened:
        found = suggestions.history(opened)
    assert [example.action for example in found.examples] == ["more-memory", "acdc"]
    assert (found.read, found.merged, found.without_pattern) == (7, 2, 2)
    assert len(found.unreadable) == 1 and "evidence.pattern[0].exit_code='lots'" in found.unreadable[0]
    assert found.examples[1].features == {
        "code=60311": 1.0, "step=?": 1.0, "code_step=60311|?": 1.0, "tier=?": 1.0, "site=?": 1.0,
        "top_code_share": 1.0, "top_site_share": 1.0, "verdict=retry": 1.0,
    }


def test_features_are_shares_so_the_size_of_a_workflow_does_not_matter() -> None:
    small = suggestions.parse_pattern([{"exit_code": 50660, "site": "T1_US_FNAL", "step": "cmsRun1", "count": 3},
                                       {"exit_code": 8021, "site": "T2_CH_CERN", "step": "cmsRun1", "count": 1}])
    large = [(code, site, step, count * 1000) for code, site, step, count in small]
    assert suggestions.features(small, None) == suggestions.features(large, None)
    assert suggestions.features(small, "resources")["tier=T1"] == 0.75


@pytest.mark.parametrize(("pattern", "verdict", "named"), [
    ({"exit_code": 1}, None, "pattern={'exit_code': 1}: expected a list"),
    ([{"site": "T2_CH_CERN", "count": 4}], None, "pattern[0].exit_code=None"),
    ([{"exit_code": 8021, "count": -2}], None, "pattern[0].count=-2"),
    ([{"exit_code": 8021, "site": 7}], None, "pattern[0].site=7"),
    ([{"exit_code": 8021}], "panic", "verdict='panic': expected one of retry"),
])
def test_a_bad_pattern_is_refused_naming_the_entry(tmp_path: Path, pattern: Any, verdict: Any, named: str) -> None:
    settings = settings_for(f"sqlite:///{tmp_path / 'ops.sqlite'}", tmp_path / "home")
    with pytest.raises(InvalidPattern) as refused:
        suggestions.suggest(settings, pattern, verdict)
    assert named in str(refused.value)


def test_a_missing_corrupt_or_foreign_model_file_gives_no_suggestion_and_logs_why(
    trained: tuple[Settings, suggestions.TrainReport, list[str]], caplog: pytest.LogCaptureFixture,
) -> None:
    settings, _, _ = trained
    clear = pattern_for("more-memory", random.Random(5))
    path = suggestions.model_path(settings)
    assert suggestions.suggest(settings, clear, "resources") is not None
    assert path.stat().st_mode & 0o777 == 0o600
    original = path.read_bytes()

    path.write_bytes(original[: len(original) // 2])
    with caplog.at_level("WARNING", logger="fwjr.ops.suggestions"):
        assert suggestions.suggest(settings, clear, "resources") is None
    assert "cannot be read" in caplog.text and str(path) in caplog.text

    path.write_bytes(b"not a model at all")
    assert "cannot be read" in suggestions.advise(settings, clear, "resources")[1]

    path.write_bytes(original)
    os.chmod(path, 0o666)
    assert "writable by no one else" in suggestions.advise(settings, clear, "resources")[1]

    path.unlink()
    assert "no model at" in suggestions.advise(settings, clear, "resources")[1]


def test_fwjr_actions_train_prints_the_evaluation_or_why_it_did_not_train(ops_url: str, tmp_path: Path) -> None:
    upgrade(ops_url)
    env = {"FWJR_HOME": str(tmp_path / "home"), "FWJR_OPS_DATABASE_URL": ops_url, "PATH": "/usr/bin:/bin"}
    run = [sys.executable, "-m", "fwjr", "actions", "train"]
    build_history(ops_url, 20)
    refused = subprocess.run(run, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert refused.returncode == 1, refused.stderr
    assert "not trained: 20 past decisions with an error pattern, fewer than the 50 needed" in refused.stdout

    build_history(ops_url, 200, seed=18, start=20)
    done = subprocess.run(run, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "220 decisions with an error pattern" in done.stdout
    assert "held out the newest 44, trained on the older 176: accuracy" in done.stdout
    assert f"stored {tmp_path / 'home' / suggestions.MODEL_FILE}" in done.stdout

    evidence = tmp_path / "evidence.json"
    evidence.write_text('{"pattern": [{"exit_code": 50660, "site": "T2_CH_CERN", "step": "cmsRun1", "count": 40}], "verdict": "resources"}')
    asked = subprocess.run([sys.executable, "-m", "fwjr", "actions", "suggest", "--pattern", str(evidence)],
                           cwd=tmp_path, env=env, capture_output=True, text=True)
    assert asked.returncode == 0, asked.stderr
    assert asked.stdout.startswith("more-memory ")
    evidence.write_text('[{"exit_code": "x"}]')
    bad = subprocess.run([sys.executable, "-m", "fwjr", "actions", "suggest", "--pattern", str(evidence)],
                         cwd=tmp_path, env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "pattern[0].exit_code='x'" in bad.stderr and str(evidence) in bad.stderr
