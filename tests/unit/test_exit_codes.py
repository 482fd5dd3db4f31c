"""The exit-code dictionary (shipped default and WMARCHIVE_ERROR_CODES) and the procedures table."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from fwjr import exit_codes
from tests.fixtures.paths import WMARCHIVE

REFERENCE_CODES = WMARCHIVE / "error_codes" / "wmarchive_error_codes.json"


@pytest.fixture(autouse=True)
def fresh_dictionary(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The dictionary is read once per process; each test reads it under its own environment."""
    monkeypatch.delenv("WMARCHIVE_ERROR_CODES", raising=False)
    exit_codes.dictionary.cache_clear()
    yield
    exit_codes.dictionary.cache_clear()


def test_default_dictionary_is_the_wmarchive_one() -> None:
    assert exit_codes.dictionary() == json.loads(REFERENCE_CODES.read_text())


def test_describe_known_unknown_and_zero() -> None:
    assert exit_codes.describe(50660) == "Application terminated by wrapper because using too much RAM (RSS)."
    assert exit_codes.describe("71304").startswith("The job was killed by the WMAgent for using too much wallclock time")
    assert exit_codes.describe(0) == exit_codes.describe("0") == "no error"
    assert exit_codes.describe(123456789) == exit_codes.UNKNOWN
    assert exit_codes.describe(-12345) == exit_codes.UNKNOWN


def test_inline_json_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WMARCHIVE_ERROR_CODES", '{"8001": "custom text", "7": 7}')
    assert exit_codes.describe(8001) == "custom text"
    assert exit_codes.describe(7) == "7"
    assert exit_codes.describe(50660) == exit_codes.UNKNOWN


def test_file_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    codes = tmp_path / "codes.json"
    codes.write_text('{"60324": "stage-out failed here"}')
    monkeypatch.setenv("WMARCHIVE_ERROR_CODES", str(codes))
    assert exit_codes.describe(60324) == "stage-out failed here"


@pytest.mark.parametrize(
    "setting, message",
    [
        ("/no/such/file.json", "neither inline JSON nor an existing file"),
        ("{not json", "not valid JSON"),
        ("[1, 2]", "neither inline JSON"),
    ],
)
def test_bad_environment_values_say_what_was_wrong(monkeypatch: pytest.MonkeyPatch, setting: str, message: str) -> None:
    monkeypatch.setenv("WMARCHIVE_ERROR_CODES", setting)
    with pytest.raises(ValueError, match=re.escape(message)) as caught:
        exit_codes.dictionary()
    assert "WMARCHIVE_ERROR_CODES" in str(caught.value)


def test_a_file_holding_a_list_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    codes = tmp_path / "codes.json"
    codes.write_text("[1, 2]")
    monkeypatch.setenv("WMARCHIVE_ERROR_CODES", str(codes))
    with pytest.raises(ValueError, match="expected an object of code -> description, got list"):
        exit_codes.dictionary()


def test_procedures() -> None:
    procedures = exit_codes.procedures()
    assert procedures
    for code, procedure in procedures.items():
        assert procedure.exit_code == code
        assert procedure.normal, code
        if procedure.match:
            assert re.compile(procedure.match).groups >= 1, code
    acdc = exit_codes.procedure(84)
    assert acdc is not None and acdc.normal == "ACDC"
    found = re.search(acdc.match, "Could not open root://eoscms.cern.ch//store/x/y.root: missing")
    assert found and found.group(1) == "root://eoscms.cern.ch//store/x/y.root"
    assert exit_codes.procedure(0) is None
    assert exit_codes.procedure(99999999) is None

