"""FWJR Monitor's shared core.

`pip install -e .` compiles the per-FWJR modules (merge, values, bucket, aggregate, reader) with
mypyc into C extensions beside their .py files (setup.py, docs/merge.md). The .py files stay the
one implementation, and the extensions are used only while they are newer than every .py they
were built from: after an edit (or a checkout) until the next install, or whenever
FWJR_PURE_PYTHON=1 is set (profilers see into Python code only), all of them are imported from
their .py files. All or none: compiled modules call each other's compiled code directly.
A package installed from a wheel always runs its extensions unless FWJR_PURE_PYTHON=1.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
import warnings
from pathlib import Path


class _SourceFinder:
    """Imports the listed modules from their .py files, ahead of their extensions."""

    def __init__(self, sources: dict[str, Path]) -> None:
        self.sources = sources

    def find_spec(self, name: str, path: object = None, target: object = None) -> importlib.machinery.ModuleSpec | None:
        source = self.sources.get(name)
        return None if source is None else importlib.util.spec_from_file_location(name, source)


def _unpacked_wheel(here: Path) -> bool:
    """Whether this package was installed from a wheel (its .dist-info folder sits beside it).

    Then the file times say nothing: installing gives every file the time it was unpacked, .py
    files often after their extensions. Only a checkout's sources can change after compiling.
    """
    return any(here.parent.glob("fwjr_monitor-*.dist-info"))


def _use_sources() -> None:
    here = Path(__file__).parent
    built: dict[str, tuple[Path, Path]] = {}
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        for extension in here.glob("*" + suffix):
            source = extension.with_name(extension.name.removesuffix(suffix) + ".py")
            if source.exists():
                built[f"{__name__}.{source.stem}"] = (source, extension)
    stale = [] if _unpacked_wheel(here) else [
        source.name for source, extension in built.values() if source.stat().st_mtime > extension.stat().st_mtime
    ]
    if not built or not (stale or os.environ.get("FWJR_PURE_PYTHON") == "1"):
        return
    if stale:
        warnings.warn(
            f"fwjr: {', '.join(sorted(stale))} changed since compiled; running the .py files "
            "(`pip install -e .` recompiles)",
            stacklevel=2,
        )
    sys.meta_path.insert(0, _SourceFinder({name: source for name, (source, _) in built.items()}))


_use_sources()
