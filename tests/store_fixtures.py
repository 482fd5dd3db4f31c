"""A real embedded chDB store per test module, and synthetic rows in the store's row contracts.

chDB hosts one engine path per process, so a module opens its store once and every test
empties the tables it uses.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fwjr.metrics import ALL_METRICS
from fwjr.model import SCOPE_KEYS
from fwjr.store import schema
from fwjr.store.connection import Store, connect
from fwjr.store.migrate import migrate
from tests import store_helpers

LADDER = {"minute_days": 2, "hour_days": 30, "day_days": 365, "jobs_days": 14, "batches_days": 30}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    opened = connect(path=tmp_path_factory.mktemp("fwjr") / "store")
    migrate(opened, LADDER)
    yield opened
    opened.close()


@pytest.fixture
def empty(store: Store) -> Store:
    for table in schema.BATCH_TABLES + ("ingest_batches",):
        store_helpers.truncate(store, table)
    return store


def agg_row(bucket: int, seed: int = 1, **scope: object) -> dict:
    """One aggregate row: scope defaults plus overrides, every metric filled from `seed`."""
    row: dict = {"bucket": bucket}
    for key in SCOPE_KEYS:
        row[key] = 0 if key == "exit_code" else f"{key}-a"
    row.update(scope)
    row["jobs"] = 3 * seed
    row["failed"] = seed
    row["eff_outliers"] = seed % 2
    for i, metric in enumerate(ALL_METRICS):
        row[f"{metric.name}_sum"] = (i + 1) * 1_234_567 * seed - 7
        row[f"{metric.name}_count"] = 2 * seed
    return row


def without_batch(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "batch"} for row in rows]
