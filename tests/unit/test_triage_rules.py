"""Remedy rules: the shipped file loads, the most specific rule wins, passive rules never decide,
and a bad file is refused naming the rule's index, its id and the field."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from fwjr.config import Settings
from fwjr.exit_codes import procedures
from fwjr.triage.rules import ERROR_CLASSES, ErrorFacts, MoreMemory, Split, default_rules, load_rules, parse_rules, step_type

UNIFIED = Path(__file__).resolve().parents[3] / "shared" / "reference" / "unified" / "error_code_rules.json"


def _rules(*rules: str) -> str:
    return "version: 1\nrules:\n" + "".join(f"  - {rule}\n" for rule in rules)


def test_step_type_drops_the_step_number():
    assert [step_type(s) for s in ("cmsRun1", "cmsRun12", "stageOut1", "logArch1", "PerformanceError")] == [
        "cmsRun", "cmsRun", "stageOut", "logArch", "PerformanceError"]


def test_shipped_rules_cover_unified_recoveries_and_every_procedure_code():
    rules = default_rules()
    assert {r.error_class for r in rules.rules} <= set(ERROR_CLASSES)
    memory = rules.best(ErrorFacts("cmsRun1", 50660))[0]
    assert memory is not None and memory.error_class == "resources"
    assert isinstance(memory.remedy, MoreMemory) and memory.remedy.memory_mb == 1000
    timeout = rules.best(ErrorFacts("cmsRun1", 50664))[0]
    assert isinstance(timeout.remedy, Split) and timeout.remedy.factor == 2
    lhe = rules.best(ErrorFacts("cmsRun1", 8001, message="cms::Exception: No lhe event found in ExternalLHEProducer::produce()"))[0]
    assert isinstance(lhe.remedy, Split) and lhe.remedy.factor == 4
    plain_8001 = rules.best(ErrorFacts("cmsRun1", 8001, message="ProductNotFound"))[0]
    assert (plain_8001.error_class, plain_8001.remedy.action) == ("code", "open-issue")
    for code in (8028, 8021, 61104, 71305):
        assert rules.best(ErrorFacts("cmsRun1", code))[0].remedy.action == "acdc", code
    if UNIFIED.is_file():
        recover = json.loads(UNIFIED.read_text())["error_codes_to_recover"]
        for code in recover:
            assert rules.best(ErrorFacts("cmsRun1", int(code)))[0] is not None, code
    for code in procedures():
        assert rules.best(ErrorFacts("cmsRun1", code))[0] is not None, f"procedure code {code} has no rule"


def test_most_specific_rule_wins_then_file_order():
    rules = parse_rules(_rules(
        "{id: any-stageout, match: {step_type: stageOut}, error_class: site, remedy: site-support}",
        "{id: code-8021, match: {exit_codes: [8021]}, error_class: service, remedy: acdc}",
        "{id: code-8021-again, match: {exit_codes: [8021]}, error_class: code, remedy: open-issue}",
        "{id: message-8021, match: {exit_codes: [8021], message: 'FileReadError'}, error_class: service, remedy: acdc}",
        "{id: by-step-and-code, match: {exit_codes: [8021], step_type: cmsRun}, error_class: code, remedy: open-issue}",
        "{id: site-8021, match: {exit_codes: [8021], site: '^T2_CH_CERN$', step_type: cmsRun}, error_class: site, remedy: site-support}",
        "{id: one-workflow, match: {workflow: 'HIG-Run3'}, error_class: configuration, remedy: kill-and-clone}",
    ), "test")
    # two conditions beat one; among two, the message condition beats the step type
    assert rules.best(ErrorFacts("cmsRun1", 8021, message="a FileReadError"))[0].id == "message-8021"
    assert rules.best(ErrorFacts("cmsRun1", 8021, message="other"))[0].id == "by-step-and-code"
    # three conditions beat two
    assert rules.best(ErrorFacts("cmsRun1", 8021, message="a FileReadError", site="T2_CH_CERN"))[0].id == "site-8021"
    # with as many conditions, exit codes beat a step type; then the earlier rule wins
    assert rules.best(ErrorFacts("stageOut1", 8021))[0].id == "code-8021"
    assert [r.id for r in rules.matching(ErrorFacts("stageOut1", 8021))] == ["code-8021", "code-8021-again", "any-stageout"]
    # patterns are searched, anchors make them exact
    assert rules.best(ErrorFacts("cmsRun1", 8021, site="T2_CH_CERN_HLT"))[0].id == "by-step-and-code"
    assert rules.best(ErrorFacts("logArch1", 60405, workflow="pdmvserv_task_HIG-Run3Summer24-00012"))[0].id == "one-workflow"
    assert rules.best(ErrorFacts("logArch1", 60405))[0] is None


def test_passive_rules_are_logged_never_the_decision(caplog: pytest.LogCaptureFixture):
    rules = parse_rules(_rules(
        "{id: trial, match: {exit_codes: [50660], step_type: cmsRun}, error_class: resources, remedy: {action: more-memory, memory_mb: 4000}, mode: passive}",
        "{id: memory, match: {exit_codes: [50660]}, error_class: resources, remedy: {action: more-memory, memory_mb: 1000}}",
        "{id: only-trial, match: {exit_codes: [137]}, error_class: site, remedy: site-support, mode: passive}",
    ), "test")
    with caplog.at_level(logging.INFO, logger="fwjr.triage"):
        best, passive = rules.best(ErrorFacts("cmsRun1", 50660, workflow="wf-a"))
        assert best.id == "memory" and [r.id for r in passive] == ["trial"]
        assert rules.best(ErrorFacts("cmsRun1", 137)) == (None, [rules.rules[2]])
    logged = [r.getMessage() for r in caplog.records]
    assert any("passive rule trial matched wf-a/cmsRun1 code 50660" in m and "(active: memory)" in m for m in logged)
    assert any("passive rule only-trial" in m and "no active rule" in m for m in logged)


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        (_rules("{id: a, match: {exit_codes: [1]}, error_class: site, remedy: acdc}",
                "{id: bad-regex, match: {message: '(unclosed'}, error_class: site, remedy: acdc}"),
         r"rules\[1\] \(id 'bad-regex'\): match.message: pattern '\(unclosed' is not a valid re2 pattern"),
        (_rules("{id: lookahead, match: {site: '^T2_(?!CH)'}, error_class: site, remedy: acdc}"),
         r"rules\[0\] \(id 'lookahead'\): match.site: pattern .* is not a valid re2 pattern"),
        (_rules("{id: a, match: {exit_codes: [1]}, error_class: site, remedy: acdc}",
                "{id: b, match: {exit_codes: [1]}, error_class: site, remedy: acdc}",
                "{id: no-amount, match: {exit_codes: [50660]}, error_class: resources, remedy: {action: more-memory}}"),
         r"rules\[2\] \(id 'no-amount'\): remedy.memory_mb: Field required"),
        (_rules("{id: split-one, match: {exit_codes: [50664]}, error_class: resources, remedy: {action: split, factor: 1}}"),
         r"rules\[0\] \(id 'split-one'\): remedy.factor: Input should be greater than or equal to 2"),
        (_rules("{id: odd, match: {exit_codes: [1]}, error_class: sitee, remedy: acdc}"),
         r"rules\[0\] \(id 'odd'\): error_class: Input should be 'service', .* \(got 'sitee'\)"),
        (_rules("{id: odd, match: {exit_codes: [1]}, error_class: site, remedy: reboot}"),
         r"rules\[0\] \(id 'odd'\): remedy: Input tag 'reboot' found using 'action' does not match"),
        (_rules("{id: empty, match: {}, error_class: site, remedy: acdc}"),
         r"rules\[0\] \(id 'empty'\): match: a rule must match on something"),
        (_rules("{id: typo, match: {exit_code: [1]}, error_class: site, remedy: acdc}"),
         r"rules\[0\] \(id 'typo'\): match.exit_code: Extra inputs are not permitted"),
        (_rules("{id: a, match: {exit_codes: [1]}, error_class: site, remedy: acdc}",
                "{id: a, match: {exit_codes: [2]}, error_class: site, remedy: acdc}"),
         r"rules\[1\]: id 'a' is already used by rules\[0\]"),
        (_rules("{match: {exit_codes: [1]}, error_class: site, remedy: acdc}"), r"rules\[0\]: id: Field required"),
        ("version: 2\nrules: []\n", r"version: Input should be 1 \(got 2\)"),
        ("- just a list\n", r"expected a mapping with version and rules, got list"),
        ("version: 1\nrules: [\n", r"not valid YAML"),
    ],
)
def test_bad_rule_files_name_the_rule_and_the_field(rules: str, expected: str):
    with pytest.raises(ValueError, match=expected) as raised:
        parse_rules(rules, "ops-rules.yaml")
    assert str(raised.value).startswith("rules file ops-rules.yaml: ")


def test_rules_file_setting_loads_that_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "rules.yaml"
    path.write_text(_rules("{id: mine, match: {exit_codes: [8021]}, error_class: code, remedy: open-issue}"))
    monkeypatch.setenv("FWJR_TRIAGE_RULES_FILE", str(path))
    configured = Settings().triage_rules_file
    assert configured == path
    assert load_rules(configured).best(ErrorFacts("cmsRun1", 8021))[0].id == "mine"
    assert load_rules(None) is default_rules()
    with pytest.raises(ValueError, match=r"rules file .*missing.yaml \(setting triage_rules_file\) does not exist"):
        load_rules(tmp_path / "missing.yaml")
