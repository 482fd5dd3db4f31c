"""The exit-code dictionary and the operators' procedure per exit code.

WMArchive read its dictionary from WMARCHIVE_ERROR_CODES (a JSON file path or inline
JSON); that keeps working here. Without it, the shipped default (fwjr/data/exit_codes.json,
from the WMArchive dictionary, see docs/SOURCES.md) is used.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path

from msgspec import Struct

_DATA = Path(__file__).parent / "data"
UNKNOWN = "unknown exit code"
NO_EXIT_CODE = "no exit code reported"


class Procedure(Struct, frozen=True):
    """What operators do first about an exit code (WorkflowWebTools' procedures table)."""

    exit_code: int
    cause: str
    normal: str
    additional: str | None = None
    match: str | None = None


@cache
def dictionary() -> dict[str, str]:
    """Exit code (as text) -> description."""
    configured = os.environ.get("WMARCHIVE_ERROR_CODES", "").strip()
    if not configured:
        return _load_json((_DATA / "exit_codes.json").read_text(), "fwjr/data/exit_codes.json")
    if configured.startswith("{"):
        return _load_json(configured, "WMARCHIVE_ERROR_CODES (inline JSON)")
    path = Path(configured)
    if not path.is_file():
        raise ValueError(f"WMARCHIVE_ERROR_CODES={configured!r} is neither inline JSON nor an existing file")
    return _load_json(path.read_text(), f"WMARCHIVE_ERROR_CODES file {configured}")


def _load_json(text: str, origin: str) -> dict[str, str]:
    try:
        loaded = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{origin}: not valid JSON ({exc})") from exc
    if not isinstance(loaded, dict):
        raise ValueError(f"{origin}: expected an object of code -> description, got {type(loaded).__name__}")
    return {str(code): str(text) for code, text in loaded.items()}


def describe(code: int | str, failed: bool = False) -> str:
    """The description of an exit code, or UNKNOWN.

    0 is "no error" for a job that succeeded, but a failed job whose report carries no error also
    has 0 (docs/merge.md), and calling that "no error" in a list of failures would hide it: pages
    that list failures pass `failed=True`.
    """
    if str(code) == "0":
        return NO_EXIT_CODE if failed else "no error"
    return dictionary().get(str(code), UNKNOWN)


@cache
def procedures() -> dict[int, Procedure]:
    """Exit code -> recommended procedure (fwjr/data/procedures.json)."""
    loaded = json.loads((_DATA / "procedures.json").read_text())
    return {int(p["exit_code"]): Procedure(**p) for p in loaded["procedures"]}


def procedure(code: int) -> Procedure | None:
    """The procedure for an exit code; None when operators have no standing instruction."""
    return procedures().get(code)
