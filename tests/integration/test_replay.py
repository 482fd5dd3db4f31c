"""`fwjr replay`: parity with `fwjr aggregate`, rebuilding a damaged range, idempotence, HDFS.

One generated archive (duplicates, drifted and malformed documents) spanning a UTC midnight,
one SparkSession (tests.fixtures.hdfs) and one embedded store for the module. The store's
ladder ages are set far out so the old test dates stay at minute grain and tables can be
compared row for row (rollups are covered by tests/integration/test_ttl_rollup.py).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from batch.command import replay
from batch.job import run_replay, sorted_rows
from fwjr.aggregate import Aggregator, error_dicts, present, row_dicts
from fwjr.bucket import parse_iso
from fwjr.config import Settings
from fwjr.devstack.hdfs import put
from fwjr.model import Rejection
from fwjr.reader import read_jobs
from fwjr.store import reads
from fwjr.store.connection import connect
from fwjr.store.replace import month_partitions
from fwjr.synth import generate_documents, write_archive
from tests.fixtures import store_helpers
from tests.fixtures.store_helpers import stored_rows, table_rows

pytestmark = pytest.mark.spark

FIRST = parse_iso("2026-10-31T20:00:00Z")  # the archive crosses a midnight and a month end
DAY1, DAY2, DAY3 = parse_iso("2026-10-31"), parse_iso("2026-11-01"), parse_iso("2026-11-02")
WIDE = (parse_iso("2026-10-01"), parse_iso("2026-12-01"))
COUNT = 2500


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("archive")
    summary = write_archive(generate_documents(COUNT, 41, start_ts=FIRST, minutes=8 * 60), root, "avro")
    assert summary["duplicates"] > 0 and summary["malformed"] > 0, summary
    return root


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    far = 365 * 100
    return Settings(home=tmp_path_factory.mktemp("home"), minute_days=far, hour_days=far + 1, day_days=far + 2)


@pytest.fixture(scope="module")
def offline(archive: Path) -> Aggregator:
    """The reference: the offline path's Aggregator over the same files, at minute grain."""
    aggregator = Aggregator("minute")
    for item in read_jobs([archive]):
        if type(item) is not Rejection:
            aggregator.add(item)
    return aggregator


def _rows(table) -> list[dict]:
    return sorted_rows(table).to_pylist()


def _snapshot(settings: Settings) -> dict[str, list[tuple]]:
    with connect(settings) as store:
        return {table: stored_rows(store, table, *WIDE) for table in ("agg", "errors")}


def _raw(settings: Settings) -> dict[str, list[tuple]]:
    with connect(settings) as store:
        return {table: table_rows(store, table) for table in ("agg", "errors")}


def _replay(settings: Settings, archive: Path, start: str, end: str) -> None:
    replay(settings, str(archive), start, end, "minute", log=io.StringIO())


@pytest.fixture(scope="module")
def hourly(spark, archive: Path):
    """The whole archive replayed at hour precision, without writing."""
    return run_replay(spark, str(archive), *WIDE, precision="hour")


@pytest.fixture(scope="module")
def replayed(spark, archive: Path, settings: Settings) -> dict[str, list[tuple]]:
    """The store after replaying both days into it; the state every store test returns to."""
    _replay(settings, archive, "2026-10-31", "2026-11-02")
    return _snapshot(settings)


def test_replay_equals_fwjr_aggregate_row_for_row(hourly, archive: Path, offline: Aggregator) -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "fwjr", "aggregate", str(archive), "--precision", "hour"], capture_output=True, check=True
    )
    expected = [json.loads(line) for line in printed.stdout.splitlines()]
    assert [present(row, "hour") for row in _rows(hourly.aggregates)] == expected
    assert hourly.duplicates == offline.duplicates > 0
    assert sum(hourly.rejected.values()) > 0
    assert hourly.jobs == offline.jobs


def test_replay_keeps_only_fwjrs_inside_the_range(spark, archive: Path, offline: Aggregator) -> None:
    start, end = parse_iso("2026-10-31T23:30:00Z"), parse_iso("2026-11-01T01:00:00Z")
    result = run_replay(spark, str(archive), start, end, precision="minute")
    expected = [row for row in row_dicts(offline.rows) if start <= row["bucket"] < end]
    assert _rows(result.aggregates) == expected
    assert _rows(result.errors) == [row for row in error_dicts(offline.errors) if start <= row["bucket"] < end]
    assert result.jobs == sum(row["jobs"] for row in expected) > 0


def test_replay_writes_what_offline_aggregation_computes(replayed, settings: Settings, offline: Aggregator) -> None:
    with connect(settings) as store:
        assert reads.aggregates(store, *WIDE, "minute") == row_dicts(offline.rows)
    assert len(replayed["errors"]) == len(offline.errors)


def test_rebuild_restores_deleted_and_corrupted_buckets(replayed, archive: Path, settings: Settings) -> None:
    with connect(settings) as store:
        store_helpers.delete_range(store, parse_iso("2026-10-31T21:00:00Z"), parse_iso("2026-10-31T22:30:00Z"))
        corrupt = dict(reads.aggregates(store, DAY2, DAY3, "minute")[5], batch="corruption")
        store_helpers.insert_aggregates(store, [corrupt])
        error = {"bucket": DAY2 + 60, "workflow": "w", "task": "t", "step": "s", "site": "x", "exit_code": 1,
                 "retry_count": 0, "signature": "", "count": 7}
        store_helpers.insert_errors(store, [error])
    assert _snapshot(settings) != replayed
    _replay(settings, archive, "2026-10-31", "2026-11-02")
    assert _snapshot(settings) == replayed


def test_two_replays_leave_identical_tables_and_a_day_leaves_other_days_alone(
    replayed, archive: Path, settings: Settings
) -> None:
    first = _raw(settings)
    _replay(settings, archive, "2026-10-31", "2026-11-02")
    assert _raw(settings) == first

    with connect(settings) as store:
        store_helpers.delete_range(store, DAY1, DAY3)  # both days gone
    _replay(settings, archive, "2026-11-01", "2026-11-02")  # only the second comes back
    with connect(settings) as store:
        assert reads.aggregates(store, DAY1, DAY2, "minute") == []
        assert stored_rows(store, "agg", DAY2, DAY3) == [row for row in replayed["agg"] if DAY2 <= row[0] < DAY3]
        assert stored_rows(store, "errors", DAY2, DAY3) == [row for row in replayed["errors"] if DAY2 <= row[0] < DAY3]


def test_replay_range_spanning_months_names_both_partitions() -> None:
    assert month_partitions(DAY1, DAY3) == ["202610", "202611"]


@pytest.mark.hdfs
def test_replay_from_hdfs_equals_the_local_replay(spark, hdfs_cluster, archive: Path, hourly) -> None:
    url = put(hdfs_cluster, archive, "/replay-archive")
    assert url.startswith("hdfs://127.0.0.1:")
    from_hdfs = run_replay(spark, url, *WIDE, precision="hour")
    assert from_hdfs.files == hourly.files > 0
    assert _rows(from_hdfs.aggregates) == _rows(hourly.aggregates)
    assert _rows(from_hdfs.errors) == _rows(hourly.errors)
