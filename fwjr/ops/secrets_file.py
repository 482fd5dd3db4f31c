"""Local secrets under FWJR_HOME: the board's signing key and the local replay token.

Written once with mode 0600, so only the user who runs the stack can read them; that file
permission, not an address, is what makes the local replay's token an identity.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from fwjr.config import Settings


def write_private(path: Path, text: str) -> None:
    """Replace the file with text, readable and writable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(text)
    os.replace(partial, path)


def read_private(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None


def signing_key(settings: Settings) -> str:
    """FWJR_SECRET_KEY, else the key kept under home (made on first use; processes that race keep the first)."""
    if settings.secret_key:
        return settings.secret_key
    path = settings.home / "secret_key"
    existing = read_private(path)
    if existing:
        return existing
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_private(path) or signing_key(settings)
    with os.fdopen(descriptor, "w") as out:
        out.write(secrets.token_urlsafe(48))
    return read_private(path) or ""
