"""The migration runner: applies sql/NNNN_*.sql in order, once each, on chDB or a server.

The files ship inside the package as fwjr.sql (fwjr/resources.py), so an installed wheel applies
the same DDL as the checkout.

A file is one change; it may hold several statements, each ended by `;` at the end of a
line. `{name}` placeholders (the rollup ages of the precision ladder, retention days) are
filled from the settings when a file is applied, so the ages are configurable without
editing SQL; changing them later needs a new migration (ALTER TABLE ... MODIFY TTL), since
an applied file never runs again. docs/store.md lists the placeholders.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from fwjr.config import Settings
from fwjr.config import settings as current_settings
from fwjr.resources import sql_dir as packaged_sql_dir
from fwjr.store.connection import Store

SQL_DIR = packaged_sql_dir()
LEDGER_FILE = "0000_schema_migrations.sql"
DEFAULT_BATCHES_DAYS = 30

_STATEMENT_END = re.compile(r";[ \t]*$", re.MULTILINE)
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_FILE_NAME = re.compile(r"^\d{4}_[a-z0-9_]+\.sql$")


def ladder_parameters(settings: Settings | None = None) -> dict[str, int]:
    """The placeholder values the DDL takes, from the settings."""
    settings = settings or current_settings()
    return {
        "minute_days": settings.minute_days,
        "hour_days": settings.hour_days,
        "day_days": settings.day_days,
        "jobs_days": settings.jobs_days,
        "batches_days": getattr(settings, "batches_days", DEFAULT_BATCHES_DAYS),
    }


def migration_files(sql_dir: Path = SQL_DIR) -> list[Path]:
    """The migration files in the order they apply; a misnamed .sql file is an error, not skipped."""
    files = sorted(sql_dir.glob("*.sql"))
    for file in files:
        if not _FILE_NAME.match(file.name):
            raise ValueError(f"{file}: migration files are named NNNN_lowercase_words.sql")
    return files


def statements(text: str, parameters: Mapping[str, int], source: str) -> list[str]:
    """The statements of one file with its placeholders filled."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in parameters:
            raise ValueError(f"{source}: placeholder {{{name}}} has no value; known: {', '.join(sorted(parameters))}")
        value = parameters[name]
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{source}: placeholder {{{name}}} must be a positive whole number of days, got {value!r}")
        return str(value)

    filled = _PLACEHOLDER.sub(fill, text)
    parts = (_strip_comments(part) for part in _STATEMENT_END.split(filled))
    return [part for part in parts if part]


def _strip_comments(part: str) -> str:
    lines = [line for line in part.splitlines() if not line.lstrip().startswith("--")]
    return "\n".join(lines).strip()


def migrate(store: Store, parameters: Mapping[str, int] | None = None, sql_dir: Path = SQL_DIR) -> list[str]:
    """Apply the files not yet recorded in schema_migrations; the versions applied now, in order."""
    parameters = dict(parameters) if parameters is not None else ladder_parameters()
    files = migration_files(sql_dir)
    ledger = sql_dir / LEDGER_FILE
    for statement in statements(ledger.read_text(), parameters, str(ledger)):
        store.command(statement)
    done = applied_migrations(store)
    applied: list[str] = []
    for file in files:
        version = file.stem
        if file.name == LEDGER_FILE or version in done:
            continue
        for statement in statements(file.read_text(), parameters, str(file)):
            try:
                store.command(statement)
            except Exception as error:
                raise RuntimeError(f"migration {file.name} failed: {error}") from error
        record_migration(store, version)
        applied.append(version)
    return applied


def applied_migrations(store: Store) -> set[str]:
    """Versions recorded in schema_migrations."""
    return {row[0] for row in store.rows("SELECT version FROM schema_migrations")}


def record_migration(store: Store, version: str) -> None:
    """Mark a migration file as applied."""
    store.insert("schema_migrations", ("version",), [(version,)])
