"""Settings: every field documented, env and YAML file both honoured, env first."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from fwjr.alerting.model import RuleConfig, alert_rule
from fwjr.config import Settings
from tests.fixtures.paths import REPO


def test_every_setting_is_documented() -> None:
    doc = (REPO / "docs" / "configuration.md").read_text()
    for name in Settings.model_fields:
        assert f"`FWJR_{name.upper()}`" in doc, name


def test_environment_overrides_the_yaml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "fwjr.yaml"
    config.write_text("dashboard_port: 9001\nflush_interval: 3.5\n")
    monkeypatch.setenv("FWJR_CONFIG", str(config))
    monkeypatch.setenv("FWJR_DASHBOARD_PORT", "9002")
    settings = Settings()
    assert settings.dashboard_port == 9002
    assert settings.flush_interval == 3.5


def test_a_config_file_that_is_not_a_mapping_is_named_in_the_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("- just\n- a list\n")
    monkeypatch.setenv("FWJR_CONFIG", str(config))
    with pytest.raises(ValueError, match="bad.yaml"):
        Settings()


def test_every_alert_setting_reaches_the_rule_and_the_defaults_are_the_rules() -> None:
    assert alert_rule(Settings()) == RuleConfig()
    changed = Settings(alert_window_minutes=7, alert_source_idle_seconds=33.0, alert_max_p_value=1e-5)
    rule = alert_rule(changed)
    assert (rule.window_minutes, rule.idle_seconds, rule.max_p_value) == (7, 33.0, 1e-5)
    knobs = {f.name for f in fields(RuleConfig)}
    settings = {name for name in Settings.model_fields if name.startswith("alert_")} - {
        "alert_webhook_urls", "alert_smtp_host", "alert_smtp_port", "alert_email_from", "alert_email_to",
        "alert_retry_attempts", "alert_retry_backoff", "alert_source_idle_seconds"}
    assert {name.removeprefix("alert_") for name in settings} <= knobs, "an alert_ setting the rule does not read"
