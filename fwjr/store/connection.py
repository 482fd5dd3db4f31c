"""The store connection: a ClickHouse server, or ClickHouse embedded through chDB.

One `Store` wraps one clickhouse-connect client behind a lock, because the board and the
stream worker share it inside the store-owning process. An embedded chDB directory can be
opened by one process only; the owner writes `<store>.owner` (pid, command, start time) so a
second process is told who holds the store and what to do, instead of a raw engine error.
Within one process, `connect` hands out the same Store for the same location (reference
counted), since chDB cannot open two engines on two paths at once either.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ProgrammingError

from fwjr.config import Settings
from fwjr.config import settings as current_settings


class StoreBusyError(RuntimeError):
    """The embedded store is held by another process; the message says which and what to do."""


@dataclass(frozen=True, slots=True)
class Owner:
    """Who holds an embedded store: written beside it by the process that opened it."""

    pid: int
    command: str
    started: str
    path: str

    def alive(self) -> bool:
        """Whether the recorded process still exists (a stale file outlives a killed owner)."""
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


class Store:
    """A shared, thread-safe handle on the tables; reads and writes go through the fwjr.store modules."""

    def __init__(self, client: Client, location: str, embedded: bool, owner_file: Path | None = None) -> None:
        self.client = client
        self.location = location
        self.embedded = embedded
        self.owner_file = owner_file
        self._lock = threading.RLock()
        self._users = 1

    def __repr__(self) -> str:
        if self.embedded:
            return f"Store(embedded {self.location})"
        parsed = urlparse(self.location)
        return f"Store(server {parsed.scheme}://{parsed.hostname}:{parsed.port or ''}{parsed.path})"

    def rows(self, sql: str, parameters: Mapping[str, Any] | None = None) -> list[tuple]:
        """Result rows as tuples; `parameters` bind the `{name:Type}` placeholders of `sql`."""
        with self._lock:
            return self.client.query(sql, parameters=dict(parameters or {})).result_rows

    def dicts(self, sql: str, parameters: Mapping[str, Any] | None = None) -> list[dict]:
        """Result rows as dicts keyed by column name."""
        with self._lock:
            result = self.client.query(sql, parameters=dict(parameters or {}))
        names = result.column_names
        return [dict(zip(names, row)) for row in result.result_rows]

    def command(self, sql: str, parameters: Mapping[str, Any] | None = None, settings: Mapping[str, Any] | None = None) -> Any:
        """A statement without a result set (DDL, ALTER, OPTIMIZE)."""
        with self._lock:
            return self.client.command(sql, parameters=dict(parameters or {}), settings=dict(settings or {}))

    def insert(self, table: str, column_names: Sequence[str], rows: Sequence[Sequence[Any]]) -> int:
        """Insert row-oriented data (one sequence per row, in `column_names` order)."""
        if not rows:
            return 0
        with self._lock:
            self.client.insert(table, rows, column_names=list(column_names))
        return len(rows)

    def insert_columns(self, table: str, column_names: Sequence[str], columns: Sequence[Sequence[Any]]) -> int:
        """Insert column-oriented data (one sequence per column): the fast path, ~280k rows/s.

        Insert 10,000-100,000 rows at a time; each insert leaves a part behind.
        """
        if len(column_names) != len(columns):
            raise ValueError(f"insert into {table}: {len(column_names)} column names but {len(columns)} columns")
        if not columns or not len(columns[0]):
            return 0
        with self._lock:
            self.client.insert(table, columns, column_names=list(column_names), column_oriented=True)
        return len(columns[0])

    def insert_arrow_stream(self, table: str, column_names: Sequence[str], stream: bytes) -> None:
        """Insert rows already encoded as an Arrow IPC stream (the worker's helper process builds them)."""
        with self._lock:
            self.client.raw_insert(table, list(column_names), insert_block=stream, fmt="ArrowStream")

    def insert_dicts(self, table: str, rows: Iterable[Mapping[str, Any]], column_names: Sequence[str]) -> int:
        """Insert row dicts (the aggregate/error/job row contracts) by turning them into columns."""
        columns: list[list[Any]] = [[] for _ in column_names]
        for row in rows:
            for column, name in zip(columns, column_names):
                column.append(row[name])
        return self.insert_columns(table, column_names, columns)

    def close(self) -> None:
        """Release this user's share; the last one closes the client and drops the owner file."""
        with _registry_lock:
            self._users -= 1
            if self._users > 0:
                return
            _registry.pop(self.location, None)
        with self._lock:
            self.client.close()
        if self.owner_file is not None:
            _remove_owner_file(self.owner_file)

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_registry: dict[str, Store] = {}
_registry_lock = threading.Lock()


def connect(settings: Settings | None = None, *, url: str | None = None, path: Path | str | None = None) -> Store:
    """The store named by `url` or `path`, else by the settings (FWJR_CLICKHOUSE_URL, else FWJR_HOME/store).

    Raises StoreBusyError when another process owns the embedded store.
    """
    if url is None and path is None:
        settings = settings or current_settings()
        url = settings.clickhouse_url
        path = None if url else settings.store_path
    location = url if url else os.path.realpath(Path(path))  # type: ignore[arg-type]
    with _registry_lock:
        shared = _registry.get(location)
        if shared is not None:
            shared._users += 1
            return shared
        store = _open_server(url) if url else _open_embedded(Path(location))
        _registry[location] = store
        return store


def _open_server(url: str) -> Store:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError(f"FWJR_CLICKHOUSE_URL={url!r}: expected http(s)://user:password@host:8123/database")
    client = clickhouse_connect.get_client(dsn=url)
    return Store(client, url, embedded=False)


def _open_embedded(path: Path) -> Store:
    path.mkdir(parents=True, exist_ok=True)
    owner_file = path.with_name(path.name + ".owner")
    _refuse_if_locked(path, owner_file)
    try:
        client = clickhouse_connect.get_client(dsn=f"chdb://{path}")
    except ProgrammingError as error:
        _refuse_if_locked(path, owner_file)
        raise RuntimeError(f"cannot open the embedded store at {path}: {error}") from error
    _write_owner_file(owner_file, path)
    return Store(client, str(path), embedded=True, owner_file=owner_file)


def _refuse_if_locked(path: Path, owner_file: Path) -> None:
    """Raise StoreBusyError when the engine's lock on `<path>/status` is held.

    chDB takes an flock on that file; probing it first avoids the engine's own error
    (printed on stderr and reported as a bare BAD_ARGUMENTS).
    """
    status = path / "status"
    if not status.exists():
        return
    with open(status, "rb") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StoreBusyError(_busy_message(path, read_owner(owner_file))) from None
        fcntl.flock(handle, fcntl.LOCK_UN)


def _busy_message(path: Path, owner: Owner | None) -> str:
    advice = (
        "Only one process can open an embedded store. While the stack runs, use its API "
        "(the board's JSON API; `fwjr query` goes through it), or stop it first with `fwjr down`. "
        "For several processes, use a ClickHouse server (FWJR_CLICKHOUSE_URL)."
    )
    if owner is None or not owner.alive():
        return (
            f"the embedded store at {path} is locked by another process that left no owner record "
            f"(find it with `fuser {path / 'status'}`). {advice}"
        )
    return (
        f"the embedded store at {path} is open in process {owner.pid} ({owner.command}), "
        f"started {owner.started}. {advice}"
    )


def read_owner(owner_file: Path) -> Owner | None:
    """The owner record beside an embedded store, or None when absent or unreadable."""
    try:
        data = json.loads(owner_file.read_text())
        return Owner(pid=int(data["pid"]), command=str(data["command"]), started=str(data["started"]), path=str(data["path"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_owner_file(owner_file: Path, path: Path) -> None:
    record = {
        "pid": os.getpid(),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv and sys.argv[0] else sys.executable,
        "started": datetime.now(tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "path": str(path),
    }
    temporary = owner_file.with_name(owner_file.name + f".{os.getpid()}")
    temporary.write_text(json.dumps(record) + "\n")
    temporary.replace(owner_file)


def _remove_owner_file(owner_file: Path) -> None:
    owner = read_owner(owner_file)
    if owner is not None and owner.pid == os.getpid():
        owner_file.unlink(missing_ok=True)
