"""The archive codec keeps every real sample intact and reads files of older schemas."""

from __future__ import annotations

import json
from pathlib import Path

import fastavro
import pytest

from fwjr.avro_codec import (
    ARCHIVE_SCHEMA,
    SCHEMA_FINGERPRINT,
    conform,
    decode_single,
    encode_single,
    load_schema_json,
    read_avro_file,
    write_avro_file,
)
from tests.fixtures.paths import WMARCHIVE

REFERENCE = WMARCHIVE
SAMPLE_FILES = sorted((REFERENCE / "fwjr_samples").glob("*Fwjr.json")) + [
    REFERENCE / "schemas" / "fwjr_prod_2016-03_sample.json"
]


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def _fields(schema: dict, prefix: str = "") -> list[tuple[str, object]]:
    """Every (path, type) of every record field reachable in the schema."""
    out = []
    for field in schema["fields"]:
        path = f"{prefix}{field['name']}"
        out.append((path, field["type"]))
        for branch in field["type"] if isinstance(field["type"], list) else [field["type"]]:
            node = branch
            while isinstance(node, dict) and node.get("type") in ("array", "map"):
                node = node.get("items", node.get("values"))
            if isinstance(node, dict) and node.get("type") == "record":
                out.extend(_fields(node, path + "."))
    return out


def test_every_field_is_nullable_with_null_default():
    for path, kind in _fields(load_schema_json()):
        assert isinstance(kind, list) and kind[0] == "null", path


def test_record_names_are_unique():
    names: list[str] = []

    def walk(node):
        if isinstance(node, list):
            for branch in node:
                walk(branch)
        elif isinstance(node, dict):
            if node.get("type") == "record":
                names.append(node["name"])
                for field in node["fields"]:
                    walk(field["type"])
            walk(node.get("items"))
            walk(node.get("values"))

    walk(load_schema_json())
    assert len(names) == len(set(names)) and "Step" in names


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.name)
def test_sample_round_trips_through_container_file(path, tmp_path):
    doc = _load(path)
    target = tmp_path / "one.avro"
    assert write_avro_file(target, [doc]) == 1
    (back,) = list(read_avro_file(target))
    assert back == conform(doc)
    assert back["meta_data"]["ts"] == doc["meta_data"]["ts"]
    assert back["task"] == doc["task"]
    assert [s["name"] for s in back["steps"]] == [s["name"] for s in doc["steps"]]


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.name)
def test_sample_round_trips_through_single_object_encoding(path):
    doc = _load(path)
    data = encode_single(doc)
    assert data[:2] == b"\xc3\x01" and data[2:10] == SCHEMA_FINGERPRINT
    assert decode_single(data) == conform(doc)


def test_uncompressed_file_holds_many_documents(tmp_path):
    docs = [_load(p) for p in SAMPLE_FILES]
    target = tmp_path / "many.avro"
    write_avro_file(target, docs, codec="null")
    assert list(read_avro_file(target)) == [conform(d) for d in docs]


def test_sample_values_that_fit_nowhere_become_null_but_errors_stay():
    doc = _load(REFERENCE / "fwjr_samples" / "ProcessingFailedFwjr.json")
    step = conform(doc)["steps"][0]
    assert step["status"] is None  # was "Failed"
    assert step["site"] is None  # was {}
    assert step["errors"] == [
        {"type": "99997", "details": doc["steps"][0]["errors"][0]["details"], "exitCode": 84}
    ]


def test_conform_coerces_drifted_values():
    doc = {
        "wmaid": "abc",
        "unknown_key": 1,
        "meta_data": {"ts": "1458283295", "host": "h", "crab_exit_code": {"$numberLong": "7"}},
        "steps": [
            {
                "name": "cmsRun1",
                "status": "8001",
                "start": 12.0,
                "stop": "not a number",
                "errors": [{"type": "Fatal Exception", "exitCode": "8001", "details": None}],
                "performance": {
                    "cpu": {"TotalJobCPU": "12.5", "AvgEventCPU": "", "NumberOfThreads": "4"},
                    "multicore": {"x": 1},
                },
                "output": [{"merged": 0, "lumis": "bad", "outputLFNs": [0, "1", "x", None]}],
            }
        ],
    }
    out = conform(doc)
    assert "unknown_key" not in out and out["Campaign"] is None
    assert out["meta_data"]["ts"] == 1458283295 and out["meta_data"]["crab_exit_code"] == 7
    step = out["steps"][0]
    assert (step["status"], step["start"], step["stop"]) == (8001, 12, None)
    assert step["errors"][0]["exitCode"] == 8001
    cpu = step["performance"]["cpu"]
    assert (cpu["TotalJobCPU"], cpu["AvgEventCPU"], cpu["NumberOfThreads"]) == (12.5, None, 4)
    assert step["performance"]["multicore"] == {"x": 1.0}
    assert step["output"][0]["merged"] is False and step["output"][0]["outputLFNs"] == [0, 1]
    # what conform returns always encodes
    assert decode_single(encode_single(doc)) == out


@pytest.mark.parametrize("bad", [[1, 2], "text", None, 3])
def test_conform_rejects_a_non_object(bad):
    with pytest.raises(ValueError, match="must be a JSON object"):
        conform(bad)


def test_file_written_with_the_2016_schema_is_readable(tmp_path):
    old_schema = json.loads((REFERENCE / "schemas" / "fwjr_prod_2016-03.avsc").read_text())
    doc = _load(REFERENCE / "schemas" / "fwjr_prod_2016-03_sample.json")
    target = tmp_path / "old.avro"
    with open(target, "wb") as out:
        fastavro.writer(out, fastavro.parse_schema(old_schema), [doc])
    (back,) = list(read_avro_file(target))
    # the 2016 schema knew only these four meta_data fields
    assert back["meta_data"] == {k: doc["meta_data"][k] for k in ("agent_ver", "fwjr_id", "host", "ts")}
    assert back["steps"][0]["errors"] == doc["steps"][0]["errors"]
    assert back["steps"][0]["performance"]["cpu"]["TotalJobCPU"] == pytest.approx(0.39894)
    # and it conforms to ours, so it can be re-archived with the current schema
    assert conform(back)["meta_data"]["ts"] == doc["meta_data"]["ts"]


def test_decode_single_names_a_bad_marker_and_an_unknown_fingerprint():
    data = encode_single(_load(SAMPLE_FILES[0]))
    with pytest.raises(ValueError, match="not an Avro single-object message"):
        decode_single(b"{" + data[1:])
    with pytest.raises(ValueError, match="not an Avro single-object message"):
        decode_single(data[:5])
    with pytest.raises(ValueError, match="unknown schema fingerprint 0000000000000000"):
        decode_single(data[:2] + bytes(8) + data[10:])


def test_fingerprint_follows_the_avro_spec():
    # Avro spec test vector: the CRC-64-AVRO fingerprint of "int" is 0x7275d51a3f395c8f,
    # written little-endian in the single-object header.
    from fastavro.schema import fingerprint, to_parsing_canonical_form

    assert fingerprint(to_parsing_canonical_form("int"), "CRC-64-AVRO") == "8f5c393f1ad57572"
    assert len(SCHEMA_FINGERPRINT) == 8
    assert ARCHIVE_SCHEMA["name"].endswith("FWJR")


def test_steps_keyed_by_name_become_the_schema_list():
    doc = _load(REFERENCE / "fwjr_samples" / "MergeFailedFwjr.json")
    keyed = {**doc, "steps": {s["name"]: {k: v for k, v in s.items() if k != "name"} for s in doc["steps"]}}
    assert conform(keyed)["steps"] == conform(doc)["steps"]
    assert decode_single(encode_single(keyed))["steps"][0]["name"] == "JobKilled"
