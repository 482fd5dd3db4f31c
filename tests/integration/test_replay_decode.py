"""The replay's decode: the projected reader schema, Arrow records -> dicts, and that the merge
makes the same job from what the replay decodes as from what `fwjr aggregate` decodes."""

from __future__ import annotations

import json
import math
import pickle
from collections.abc import Iterator
from pathlib import Path

import fastavro
import msgspec
import pyarrow as pa
import pytest

from batch.arrow_records import records_converter
from batch.avro_source import ALL, project_schema, read_records
from batch.job import MERGE_PROJECTION
from fwjr.avro_codec import load_schema_json, read_avro_file, write_avro_file
from fwjr.model import Rejection
from fwjr.reader import to_job
from fwjr.synth import generate_documents
from tests.fixtures.hdfs import SAMPLES_DIR

RAW_REPORT = SAMPLES_DIR / "raw_wmagent_fwjr_2023_go_doc.json"  # has a cmssw performance block


def _documents() -> list[dict]:
    """Generated FWJRs with every kind of drift and damage, the real samples and a raw agent report."""
    samples = [json.loads(path.read_text()) for path in sorted(SAMPLES_DIR.glob("*.json"))]
    return list(generate_documents(400, 7, start_ts=1_767_225_600, minutes=60)) + samples


@pytest.fixture(scope="module")
def avro_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("decode") / "fwjr.avro"
    write_avro_file(path, (doc for doc in _documents() if isinstance(doc, dict)))
    return path


def _projected(path: Path) -> list[dict]:
    """fastavro's decode with the projected reader schema: the dicts the replay must produce."""
    with open(path, "rb") as source:
        writer = json.loads(fastavro.reader(source).metadata["avro.schema"])
    reader_schema = fastavro.parse_schema(project_schema(writer, MERGE_PROJECTION))
    with open(path, "rb") as source:
        return list(fastavro.reader(source, reader_schema=reader_schema))


def _comparable(value):
    """NaN equal to NaN, so decoded documents can be compared with ==."""
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, dict):
        return {key: _comparable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_comparable(item) for item in value]
    return value


def _job_view(job):
    if type(job) is Rejection:
        return job.reason
    return _comparable({**msgspec.structs.asdict(job), "log_archive": None})


def test_the_merge_projection_keeps_everything_a_job_is_made_of(avro_file: Path) -> None:
    full = list(read_avro_file(avro_file))
    projected = _projected(avro_file)
    assert "steps" in projected[0] and "PFNArray" not in projected[0]
    assert "input" not in projected[0]["steps"][0]
    assert any((step["performance"] or {}).get("cmssw") for doc in projected for step in doc["steps"] or [])
    assert [_job_view(to_job("f", doc)) for doc in projected] == [_job_view(to_job("f", doc)) for doc in full]


def test_projection_moves_a_named_type_to_the_reference_it_keeps() -> None:
    schema = {
        "type": "record", "name": "R", "namespace": "n",
        "fields": [
            {"name": "a", "type": {"type": "record", "name": "Inner", "fields": [{"name": "x", "type": "long"}]}},
            {"name": "b", "type": ["null", "n.Inner"]},
            {"name": "c", "type": "string"},
        ],
    }
    projected = project_schema(schema, {"b": ALL, "missing": ALL})
    assert projected["fields"] == [
        {"name": "b", "type": ["null", {"type": "record", "name": "Inner", "fields": [{"name": "x", "type": "long"}]}]}
    ]
    fastavro.parse_schema(projected)


def _restricted(value, projection):
    """The part of a fully decoded value that a projection asks for (fields the value lacks are skipped)."""
    if projection is ALL or value is None:
        return value
    if isinstance(value, list):
        return [_restricted(item, projection) for item in value]
    return {name: _restricted(value[name], inner) for name, inner in projection.items() if name in value}


def test_the_archive_schema_projects_to_a_valid_reader_schema(avro_file: Path) -> None:
    """As the reader schema of an archive file it decodes exactly the projected fields, with their values."""
    archive = load_schema_json()
    projected = project_schema(archive, MERGE_PROJECTION)
    assert [field["name"] for field in projected["fields"]] == [
        field["name"] for field in archive["fields"] if field["name"] in MERGE_PROJECTION
    ]
    with open(avro_file, "rb") as source:
        decoded = list(fastavro.reader(source, reader_schema=fastavro.parse_schema(projected)))
    full = list(read_avro_file(avro_file))
    assert len(decoded) == len(full) > 400
    assert [_comparable(doc) for doc in decoded] == [_comparable(_restricted(doc, MERGE_PROJECTION)) for doc in full]


def test_records_converter_matches_to_pylist_with_nulls_maps_and_slices() -> None:
    kind = pa.struct([
        ("name", pa.string()),
        ("steps", pa.list_(pa.struct([("n", pa.int64()), ("perf", pa.map_(pa.string(), pa.float64()))]))),
        ("meta", pa.struct([("ts", pa.int64()), ("host", pa.string())])),
    ])
    rows = [
        {"name": "a", "steps": [{"n": 1, "perf": [("x", 1.5)]}, {"n": None, "perf": None}], "meta": {"ts": 5, "host": None}},
        {"name": None, "steps": None, "meta": None},
        {"name": "c", "steps": [], "meta": {"ts": None, "host": "h"}},
        {"name": "d", "steps": [None, {"n": 2, "perf": []}], "meta": {"ts": 7, "host": "k"}},
    ]
    batch = pa.RecordBatch.from_struct_array(pa.array(rows, kind))
    for part in (batch, batch.slice(1), batch.slice(1, 2)):
        assert records_converter(part.schema)(part) == part.to_pylist(maps_as_pydicts="strict")


def test_records_converter_gives_union_structs_their_value() -> None:
    member = pa.struct([("member0", pa.bool_()), ("member1", pa.float64()), ("member2", pa.string())])
    column = pa.array(
        [[("a", {"member1": 2.5}), ("b", {"member0": False}), ("c", None)], None],
        pa.map_(pa.string(), member),
    )
    batch = pa.RecordBatch.from_arrays([column], names=["open"])
    assert records_converter(batch.schema)(batch) == [{"open": {"a": 2.5, "b": False, "c": None}}, {"open": None}]


def _converted(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    convert = None
    for batch in batches:
        convert = convert or records_converter(batch.schema)
        yield pa.RecordBatch.from_arrays([pa.array([pickle.dumps(convert(batch))], pa.binary())], names=["docs"])


@pytest.mark.spark
def test_spark_records_become_the_dicts_fastavro_gives(spark, avro_file: Path) -> None:
    records = read_records(spark, [str(avro_file)], MERGE_PROJECTION).coalesce(1)
    decoded = [doc for row in records.mapInArrow(_converted, "docs binary").collect() for doc in pickle.loads(row["docs"])]
    expected = _projected(avro_file)
    assert len(decoded) == len(expected) > 400
    assert [_comparable(doc) for doc in decoded] == [_comparable(doc) for doc in expected]

