"""Every import in the product resolves, and the core stays pure.

Many commands import lazily inside functions so that `fwjr --help` stays quick; a
renamed module then breaks only when that command runs. Reading the imports from the
source catches it without running each command.
"""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from tests.fixtures.paths import REPO as ROOT

PRODUCT = ("fwjr", "streams", "batch", "dashboard")
CORE_SUBPACKAGES = tuple(p.name for p in (ROOT / "fwjr").iterdir() if (p / "__init__.py").exists())


def _sources(*packages: str) -> list[Path]:
    return sorted(f for package in packages for f in (ROOT / package).rglob("*.py"))


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, module, names) for each absolute import of a project module, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, a.name, []) for a in node.names)
    return [(line, module, names) for line, module, names in found if module.split(".")[0] in PRODUCT]


def _resolves(module: str, name: str) -> bool:
    target = importlib.import_module(module)
    if hasattr(target, name):
        return True
    try:
        importlib.import_module(f"{module}.{name}")
    except ModuleNotFoundError:
        return False
    return True


@pytest.mark.parametrize("path", _sources(*PRODUCT), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_project_import_resolves(path: Path) -> None:
    missing = [f"{path.relative_to(ROOT)}:{line}: {module}.{name}"
               for line, module, names in _imports(path) for name in names or [""]
               if not (_resolves(module, name) if name else importlib.import_module(module))]
    assert missing == []


def _in_core(module: str) -> bool:
    top, _, rest = module.partition(".")
    return top == "fwjr" and rest.split(".")[0] not in CORE_SUBPACKAGES


def test_core_imports_only_the_core() -> None:
    core = [p for p in (ROOT / "fwjr").glob("*.py") if p.name != "__main__.py"]
    outside = [f"{path.name}:{line}: {module}" for path in core for line, module, _ in _imports(path)
               if not _in_core(module)]
    assert outside == []
