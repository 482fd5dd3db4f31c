"""The replay's infrastructure, end to end on real components: Spark with the Avro connector,
the archive listing and reader, and a loopback HDFS that Spark reads the archive back from."""

from __future__ import annotations

from pathlib import Path

import pytest

from batch.avro_source import ALL, archive_days, list_archive_files, read_records
from fwjr.devstack.hdfs import fs_shell, put
from tests.fixtures.hdfs import write_archive_tree

DAY = 86400
# 2016-03-01 20:00 UTC: with a 60 s step, 600 FWJRs run past midnight into 2016-03-02.
START_TS = 1456862400
DOCS = 600
PER_FILE = 100


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("archive")
    write_archive_tree(root, DOCS, START_TS, 60, PER_FILE)
    return root


def _wmaids(df) -> list[str]:
    return sorted(row["wmaid"] for row in df.select("wmaid").collect())


def test_archive_days_widen_the_range_by_the_slack():
    days = archive_days(START_TS, START_TS + 3600, slack_days=1)
    assert [d.isoformat() for d in days] == ["2016-02-29", "2016-03-01", "2016-03-02"]


def test_archive_days_reject_a_reversed_range():
    with pytest.raises(ValueError, match="ends before it starts"):
        archive_days(START_TS, START_TS - 1, slack_days=1)


def test_listing_finds_files_written_after_midnight(archive: Path):
    last_day_of_jobs = START_TS + 3 * 3600
    with_slack = list_archive_files(str(archive), START_TS, last_day_of_jobs, slack_days=1)
    without_slack = list_archive_files(str(archive), START_TS, last_day_of_jobs, slack_days=0)
    assert len(with_slack) == DOCS // PER_FILE
    assert set(without_slack) < set(with_slack)
    assert all(path.endswith(".avro") and Path(path).is_absolute() for path in with_slack)


def test_listing_a_range_far_from_the_archive_is_empty(archive: Path):
    assert list_archive_files(str(archive), START_TS + 30 * DAY, START_TS + 31 * DAY) == []


@pytest.mark.spark
def test_session_is_local_utc_with_the_avro_connector(spark):
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert any("spark-avro_" in jar for jar in spark.conf.get("spark.jars").split(","))
    assert spark.sparkContext.master.startswith("local")


@pytest.mark.spark
def test_spark_avro_format_is_loadable(spark, archive: Path):
    files = list_archive_files(str(archive), START_TS, START_TS + DAY)
    assert spark.read.format("avro").load(files).select("wmaid").count() == DOCS


@pytest.mark.spark
def test_read_records_yields_every_fwjr(spark, archive: Path):
    files = list_archive_files(str(archive), START_TS, START_TS + DAY)
    df = read_records(spark, files)
    assert _wmaids(df) == sorted(f"{i:032x}" for i in range(DOCS))
    record = df.where(df.wmaid == f"{0:032x}").first()
    assert record["meta_data"]["ts"] == START_TS and record["steps"]


@pytest.mark.spark
def test_read_records_with_a_projection_decodes_only_its_fields(spark, archive: Path):
    files = list_archive_files(str(archive), START_TS, START_TS + DAY)
    df = read_records(spark, files, {"wmaid": ALL, "meta_data": {"ts": ALL}, "steps": {"name": ALL}, "nosuchfield": ALL})
    assert df.columns == ["wmaid", "meta_data", "steps"]
    assert df.schema["meta_data"].dataType.fieldNames() == ["ts"]
    assert df.schema["steps"].dataType.elementType.fieldNames() == ["name"]
    assert _wmaids(df) == sorted(f"{i:032x}" for i in range(DOCS))


@pytest.mark.spark
def test_read_records_of_no_files_is_empty(spark):
    assert read_records(spark, []).count() == 0


@pytest.mark.spark
@pytest.mark.hdfs
def test_spark_reads_the_archive_back_from_hdfs(spark, hdfs_cluster, archive: Path):
    url = put(hdfs_cluster, archive, "/wmarchive/fwjr")
    assert url == f"{hdfs_cluster.url}/wmarchive/fwjr"
    assert "/wmarchive/fwjr/2016/03/02/" in fs_shell(hdfs_cluster, "-ls", "-R", "/wmarchive")

    local_files = list_archive_files(str(archive), START_TS, START_TS + DAY)
    hdfs_files = list_archive_files(url, START_TS, START_TS + DAY)
    assert len(hdfs_files) == len(local_files)
    assert all(path.startswith(f"hdfs://127.0.0.1:{hdfs_cluster.port}/wmarchive/fwjr/") for path in hdfs_files)

    projection = {"wmaid": ALL, "meta_data": ALL}
    from_hdfs = read_records(spark, hdfs_files, projection)
    assert from_hdfs.columns == ["wmaid", "meta_data"]
    assert sorted(from_hdfs.collect()) == sorted(read_records(spark, local_files, projection).collect())
