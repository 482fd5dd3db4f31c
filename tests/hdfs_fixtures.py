"""Fixtures for the replay infrastructure: a real loopback HDFS, a local SparkSession, and
small Avro archive trees.

Enable with `pytest_plugins = ["tests.hdfs_fixtures"]` in tests/conftest.py.

The archive tree imitates WMArchive's layout, ROOT/YYYY/MM/DD/*.avro, including its quirk
that a file sits in the folder of the day it was written, which can be the day after the
FWJRs inside it finished.
"""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from fwjr.avro_codec import write_avro_file
from fwjr.devstack.hdfs import HdfsHandle, hadoop_jar_dir, start_hdfs, tool_missing
from tests.paths import WMARCHIVE

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

SAMPLES_DIR = WMARCHIVE / "fwjr_samples"
FLUSH_LAG_SECONDS = 3 * 3600


def _templates() -> list[dict]:
    """The real per-job FWJR samples (the 2023 envelope document is left out: it is a different shape)."""
    paths = sorted(SAMPLES_DIR.glob("*Fwjr.json"))
    if not paths:
        raise FileNotFoundError(f"no *Fwjr.json samples in {SAMPLES_DIR} to build an archive from")
    return [json.loads(path.read_text()) for path in paths]


def sample_documents(count: int, start_ts: int, step_seconds: int) -> Iterator[dict]:
    """`count` FWJRs cycled from the real samples, each with its own wmaid and meta_data.ts."""
    templates = _templates()
    for i in range(count):
        doc = copy.deepcopy(templates[i % len(templates)])
        doc["wmaid"] = f"{i:032x}"
        doc.setdefault("meta_data", {})["ts"] = start_ts + i * step_seconds
        doc["meta_data"]["fwjr_id"] = f"{i}-0"
        yield doc


def write_archive_tree(root: Path, count: int, start_ts: int, step_seconds: int, per_file: int) -> list[Path]:
    """Write `count` FWJRs as Avro files under root/YYYY/MM/DD, `per_file` records each.

    Each file goes to the folder of its last record's ts plus a flush lag, as the archive's
    writer did, so folder dates and record dates disagree near midnight.
    """
    docs = list(sample_documents(count, start_ts, step_seconds))
    files: list[Path] = []
    for first in range(0, count, per_file):
        chunk = docs[first:first + per_file]
        written = datetime.fromtimestamp(chunk[-1]["meta_data"]["ts"] + FLUSH_LAG_SECONDS, tz=timezone.utc)
        folder = root / f"{written:%Y/%m/%d}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"fwjr_{first:08d}.avro"
        write_avro_file(path, chunk)
        files.append(path)
    return files


@pytest.fixture(scope="session")
def hdfs_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HdfsHandle]:
    """One real HDFS (namenode + datanode on 127.0.0.1) shared by the whole test session."""
    reason = tool_missing(hadoop_jar_dir())
    if reason:
        pytest.skip(f"the HDFS minicluster cannot run: {reason}")
    state_dir = tmp_path_factory.mktemp("hdfs")
    handle = start_hdfs(state_dir)
    try:
        yield handle
    finally:
        handle.stop()
        shutil.rmtree(state_dir / "dfs", ignore_errors=True)


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """One local SparkSession (with the Avro connector) for the whole test session."""
    pytest.importorskip("pyspark")
    from batch.spark_session import avro_jar_dir, get_spark

    reason = tool_missing(avro_jar_dir())
    if reason:
        pytest.skip(f"Spark cannot start: {reason}")
    session = get_spark("local[2]", app_name="fwjr-tests")
    try:
        yield session
    finally:
        session.stop()
