"""Migrations and embedded-store ownership, on a real chDB engine."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fwjr.aggregate import VALUE_COLUMNS
from fwjr.store import job_reads, schema
from fwjr.store import migrate as store_migrate
from fwjr.store import sql as store_sql
from fwjr.store.connection import Store, StoreBusyError, connect, read_owner
from fwjr.store.migrate import migrate, migration_files, statements
from tests.fixtures import store_helpers
from tests.fixtures.store import LADDER, store  # noqa: F401

REPO = Path(__file__).resolve().parents[2]


def test_migrations_are_recorded_and_idempotent(store: Store) -> None:
    versions = [f.stem for f in migration_files() if not f.name.startswith("0000_")]
    assert store_migrate.applied_migrations(store) >= set(versions)
    assert migrate(store, LADDER) == []
    assert migrate(store, LADDER) == []


def test_tables_hold_the_contract_columns(store: Store) -> None:
    assert tuple(store_helpers.table_columns(store, "agg")) == schema.AGG_COLUMNS
    assert tuple(store_helpers.table_columns(store, "errors")) == schema.ERROR_COLUMNS
    assert tuple(store_helpers.table_columns(store, "jobs")) == schema.JOB_COLUMNS
    assert tuple(store_helpers.table_columns(store, "dlq_counts")) == schema.DLQ_COLUMNS
    types = store_helpers.table_columns(store, "agg")
    assert all(types[c] == "Int64" for c in VALUE_COLUMNS if c.endswith("_sum"))


@pytest.mark.parametrize("table", schema.BUCKETED_TABLES)
def test_every_value_column_is_summed_by_each_rollup(store: Store, table: str) -> None:
    """A value column without `= sum(...)` in a TTL rule would silently keep any() of its rows."""
    ddl = store_helpers.table_ddl(store, table)
    values = [c for c in store_helpers.table_columns(store, table) if c not in ("bucket", "batch") and c not in _keys(table)]
    for column in values:
        assert len(re.findall(rf"\b{column} = sum\({column}\)", ddl)) == 3, column
    for start in ("toStartOfHour", "toStartOfDay", "toStartOfMonth"):
        assert f"bucket = min({start}(bucket))" in ddl


def _keys(table: str) -> tuple[str, ...]:
    from fwjr.model import ERROR_KEYS, SCOPE_KEYS

    return {"agg": SCOPE_KEYS, "errors": ERROR_KEYS, "dlq_counts": ("reason",)}[table]


def test_placeholders_are_filled_and_checked() -> None:
    text = "CREATE TABLE t (b DateTime) ENGINE = MergeTree ORDER BY b\nTTL b + INTERVAL {minute_days} DAY\n;\nSELECT 1;\n"
    assert statements(text, {"minute_days": 3}, "x.sql")[0].endswith("INTERVAL 3 DAY")
    assert len(statements(text, {"minute_days": 3}, "x.sql")) == 2
    with pytest.raises(ValueError, match=r"x.sql: placeholder \{minute_days\} has no value"):
        statements(text, {}, "x.sql")
    with pytest.raises(ValueError, match="positive whole number of days, got 0"):
        statements(text, {"minute_days": 0}, "x.sql")


def test_same_process_shares_one_store(store: Store) -> None:
    again = connect(path=store.location)
    assert again is store
    again.close()
    assert store_migrate.applied_migrations(store)


def test_owner_file_names_this_process(store: Store) -> None:
    owner = read_owner(store.owner_file)
    assert owner is not None and owner.pid == os.getpid() and owner.path == store.location


def test_second_process_gets_store_busy_error_naming_the_owner(store: Store) -> None:
    code = (
        "import sys\n"
        "from fwjr.store.connection import StoreBusyError, connect\n"
        "try:\n"
        f"    connect(path={store.location!r})\n"
        "except StoreBusyError as error:\n"
        "    print(error)\n"
        "    sys.exit(3)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stderr
    message = done.stdout
    assert f"process {os.getpid()}" in message and store.location in message
    assert "fwjr down" in message
    assert "Cannot lock" not in done.stderr and "Traceback" not in done.stderr


def test_store_busy_error_without_owner_record(tmp_path: Path) -> None:
    """A holder that left no owner file is still reported clearly (here: a raw chDB user)."""
    path = tmp_path / "store"
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import clickhouse_connect,sys,time\nc=clickhouse_connect.get_client(dsn='chdb://{path}')\nprint('up',flush=True)\nsys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "up"
        with pytest.raises(StoreBusyError, match="left no owner record"):
            connect(path=path)
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)


def test_closing_removes_the_owner_file_and_a_stale_one_is_replaced(tmp_path: Path, store: Store) -> None:
    """Runs in a child: this process already hosts the module's engine."""
    path = tmp_path / "store"
    path.with_name("store.owner").write_text('{"pid": 999999999, "command": "gone", "started": "x", "path": "p"}')
    code = (
        "import os\n"
        "from fwjr.store.connection import connect, read_owner\n"
        f"s = connect(path={str(path)!r})\n"
        "assert read_owner(s.owner_file).pid == os.getpid()\n"
        "s.close()\n"
        "assert not s.owner_file.exists()\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "ok", done.stderr


def test_the_jobs_id_index_migration_applies_to_an_existing_store(store: Store) -> None:
    """sql/0017 on a store that already holds jobs: recorded once, the index built, lookups exact."""
    index = "SELECT count() FROM system.data_skipping_indices WHERE database = currentDatabase() AND table = 'jobs' AND name = 'jobs_ids_bloom'"
    store.command("ALTER TABLE jobs DROP INDEX IF EXISTS jobs_ids_bloom")
    store.command("ALTER TABLE schema_migrations DELETE WHERE version = '0017_jobs_id_index'", settings={"mutations_sync": 2})
    assert store.rows(index)[0][0] == 0
    now = int(time.time())
    jobs = [
        {name: "" for name in schema.JOB_COLUMNS}
        | {"identity": f"id-{i}", "ts": now - i, "fwjr_id": f"f-{i}", "failed": 1, "exit_code": 8021, "retry_count": 0, "wall_time": 1.0,
           "cpu_efficiency": None, "core_hours": 1.0, "src_partition": -1, "src_offset": -1}
        for i in range(3000)
    ]
    store_helpers.insert_jobs(store, jobs, batch="existing")
    assert migrate(store, LADDER) == ["0017_jobs_id_index"]
    assert migrate(store, LADDER) == []
    assert store.rows(index)[0][0] == 1
    hits = job_reads.search_failed_jobs(store, now - 86400, now + 1, "f-1234", None, 10)
    assert [(j["identity"], j["fwjr_id"]) for j in hits] == [("id-1234", "f-1234")]
    store_helpers.truncate(store, "jobs")


@pytest.mark.parametrize(("name", "keys", "sums"), store_sql.AGG_PROJECTIONS)
def test_each_projection_sums_the_value_columns_the_reads_expect_of_it(store: Store, name: str, keys: frozenset, sums: frozenset) -> None:
    """store_sql.AGG_PROJECTIONS tells the reads what each projection holds; a metric added to
    fwjr/metrics.py (and so to VALUE_COLUMNS) but not to the projection's DDL would be read as 0."""
    ddl = store_helpers.table_ddl(store, "agg")
    found = re.search(rf"PROJECTION {name}\s*\((.*?)\)\s*(?:,\s*PROJECTION|\)\s*ENGINE)", ddl, re.S)
    assert found, f"projection {name} is not in the agg table's DDL"
    body = found.group(1)
    assert set(re.findall(r"\bsum\((\w+)\)", body)) == set(sums), name
    grouped = re.search(r"GROUP BY (.*)$", body, re.S)
    assert grouped, f"projection {name} does not group"
    assert {k.strip() for k in grouped.group(1).split(",")} == {"bucket", *keys}, name
    assert set(sums) <= set(VALUE_COLUMNS)
