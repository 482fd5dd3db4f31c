"""Every accepted report keeps its merged job when written to Avro (normalise first, then encode)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fwjr.avro_codec import decode_single, encode_single, read_avro_file, write_avro_file
from fwjr.merge import archive_form, merge_document
from tests.fixtures.paths import WMARCHIVE

REPORTS = sorted(
    list((WMARCHIVE / "fwjr_samples").glob("*.json"))
    + list((WMARCHIVE / "legacy_2015_2016").glob("*.json"))
    + [WMARCHIVE / "schemas" / "fwjr_prod_2016-03_sample.json"]
)


@pytest.mark.parametrize("path", REPORTS, ids=lambda p: p.name)
def test_avro_copy_merges_to_the_same_job(path: Path, tmp_path: Path) -> None:
    doc = json.loads(path.read_text())
    original = merge_document(doc)
    assert merge_document(archive_form(doc)) == original
    assert merge_document(decode_single(encode_single(doc))) == original
    write_avro_file(tmp_path / "one.avro", [doc])
    assert [merge_document(d) for d in read_avro_file(tmp_path / "one.avro")] == [original]


def test_raw_agent_report_is_reshaped_into_the_archive_layout() -> None:
    raw = json.loads((WMARCHIVE / "fwjr_samples" / "raw_wmagent_fwjr_2023_go_doc.json").read_text())
    form = archive_form(raw)
    assert [step["name"] for step in form["steps"]] == ["cmsRun1", "stageOut1", "logArch1"]
    assert "cmsRun1" not in form
    assert form["meta_data"]["ts"] == 1692718966
    assert all(step["site"] == "T2_CH_CERN" for step in form["steps"])
