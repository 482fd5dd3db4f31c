"""Settings: every field documented, env and YAML file both honoured, env first."""

from __future__ import annotations

from pathlib import Path

import pytest

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
