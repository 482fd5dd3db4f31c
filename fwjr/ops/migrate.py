"""Applying the operational database's Alembic migrations, from the copy shipped in the package.

The scripts are found with importlib.resources, so `fwjr ops migrate` works from an installed
wheel as well as from the checkout. Upgrading is idempotent: at head it changes nothing.
"""

from __future__ import annotations

from importlib.resources import as_file, files

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from fwjr.ops.database import engine


def _config(url: str, location: str) -> Config:
    config = Config()
    config.set_main_option("script_location", location)
    config.attributes["url"] = url
    return config


def current(url: str) -> str | None:
    """The revision the database is at (None when no migration was applied)."""
    with engine(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(url: str) -> list[str]:
    """Bring the database to the newest revision; returns the revisions applied, oldest first."""
    with as_file(files("fwjr.ops") / "migrations") as location:
        config = _config(url, str(location))
        before = current(url)
        scripts = ScriptDirectory.from_config(config)
        pending = [s.revision for s in scripts.iterate_revisions("head", before)]
        if pending:
            command.upgrade(config, "head")
    return list(reversed(pending))
