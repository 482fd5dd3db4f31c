"""What the wheel is built from, read from setup.py: the tests of the wheel and of the Dockerfile
both need the list, and setup.py is where it is defined."""

from __future__ import annotations

import ast

from tests.paths import REPO

BUILD_FILES = ("pyproject.toml", "setup.py")


def packaged_folders() -> set[str]:
    """The top-level folders of the repository that the wheel is built from: the code packages
    setup.py finds and the folders it maps into them (sql/, tools/)."""
    tree = ast.parse((REPO / "setup.py").read_text())
    folders: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "DATA_PACKAGES" for t in node.targets):
            folders |= set(ast.literal_eval(node.value).values())
        if isinstance(node, ast.keyword) and node.arg == "include":
            folders |= {pattern.rstrip("*") for pattern in ast.literal_eval(node.value)}
    return folders
