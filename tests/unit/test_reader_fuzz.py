"""Hostile input never escapes the reader: every input is a Job or a Rejection with a reason.

Real feeds carry truncated messages, fields of the wrong type and absurd numbers; one
exception in the worker stalls a partition, so these properties guard the whole pipeline,
including the aggregation that every Job the reader lets through must survive.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fwjr.aggregate import Aggregator, present, row_dicts
from fwjr.errors import RejectedDocument
from fwjr.merge import merge_document
from fwjr.model import Job, Rejection
from fwjr.reader import AVRO_SINGLE_OBJECT_MARKER, CONTENT_TYPE_AVRO, decode_message, to_job
from tests.fixtures.paths import WMARCHIVE

REFERENCE = WMARCHIVE
DOCUMENTS = (
    sorted((REFERENCE / "fwjr_samples").glob("*.json"))
    + [REFERENCE / "schemas" / "fwjr_prod_2016-03_sample.json"]
    + sorted((REFERENCE / "legacy_2015_2016").glob("*.json"))
)
RAW = {path.name: path.read_bytes() for path in DOCUMENTS}

HUGE = [1e308, -1e308, 2**80, -(2**80), 2**63, 1.7976931348623157e308, "1e400", "9" * 400]
WRONG = [
    None, "", "garbage", -1, 0, True, False, float("nan"), float("inf"),
    [], {}, [None], {"$numberLong": "1e400"}, {"$numberLong": None}, [[[]]], {"a": {"b": {}}},
] + HUGE


def _check(result: Job | Rejection, origin: str, precisions: tuple[str, ...] = ("minute", "week", "month")) -> None:
    """The reader's contract, and that the pipeline after it survives the job."""
    assert type(result) in (Job, Rejection), origin
    if type(result) is Rejection:
        assert result.reason, origin
        return
    for precision in precisions:
        aggregator = Aggregator(precision)
        aggregator.add(result)
        for row in row_dicts(aggregator.rows):
            present(row, precision)
    msgspec.json.encode(result)


def _read(data: bytes, content_type: str | None = None, source: str = "fuzz") -> Job | Rejection:
    return to_job(source, decode_message(data, content_type, source))


# --- bytes ---------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=3000), prefix=st.sampled_from([b"", b"{", b"[", AVRO_SINGLE_OBJECT_MARKER, b'{"steps":']),
       content_type=st.sampled_from([None, "application/json", CONTENT_TYPE_AVRO]))
def test_random_bytes(data: bytes, prefix: bytes, content_type: str | None) -> None:
    _check(_read(prefix + data, content_type), repr(prefix + data[:40]))


def test_empty_and_none_messages() -> None:
    for value in (b"", None):
        result = _read(value)
        assert type(result) is Rejection and result.reason == "empty message"


@pytest.mark.parametrize("name", sorted(RAW))
def test_truncated_real_documents(name: str) -> None:
    data = RAW[name].rstrip()
    step = max(1, len(data) // 150)
    for cut in list(range(0, len(data), step)) + [len(data) - 1, len(data) - 2]:
        result = _read(data[:cut], source=f"{name}[:{cut}]")
        _check(result, f"{name}[:{cut}]")
        assert type(result) is Rejection, f"{name}[:{cut}] of {len(data)} bytes was accepted"


@pytest.mark.parametrize("name", sorted(RAW))
def test_real_documents_as_messages(name: str) -> None:
    result = _read(RAW[name], "application/json", name)
    assert type(result) is Job
    _check(result, name)


@pytest.mark.parametrize(
    "text",
    [
        b'{"meta_data": {"ts": 1e400}, "steps": []}',
        b'{"meta_data": {"ts": 1208925819614629174706176}, "steps": []}',
        b'{"meta_data": {"ts": 1700000000}, "steps": [{"start": 0, "stop": 1e308, "performance": {"cpu": {"TotalJobCPU": 1e308}}}]}',
        b'{"meta_data": {"ts": 1700000000}, "steps": [{"errors": [{"exitCode": 1208925819614629174706176}]}]}',
        b'{"meta_data": {"ts": 1700000000}, "steps": [{"errors": [{"exitCode": "1e300"}]}]}',
        b'{"meta_data": {"ts": "1e308"}, "steps": []}',
        b'{"meta_data": {"ts": -1e308}, "steps": []}',
    ],
)
def test_huge_numbers_in_json_text(text: bytes) -> None:
    _check(_read(text), text.decode())


def test_deep_nesting() -> None:
    deep_text = b'{"steps": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    _check(_read(deep_text), "deep JSON text")
    nested: Any = {}
    for _ in range(50_000):
        nested = {"cmssw": nested, "a": [nested]}
    body = {"meta_data": {"ts": 1700000000}, "task": nested, "steps": [{"name": nested, "site": nested, "performance": nested,
                                                                       "errors": [nested], "output": [nested]}]}
    _check(to_job("deep", body), "deep object")


# --- wrong types at every field ------------------------------------------------


def _paths(node: Any, prefix: tuple = ()) -> Iterator[tuple]:
    """Every path to a value inside a decoded document (dict keys, and the first three
    indexes of each list: later items repeat the same shape)."""
    if type(node) is dict:
        for key, value in node.items():
            yield prefix + (key,)
            yield from _paths(value, prefix + (key,))
    elif type(node) is list:
        for index, value in enumerate(node[:3]):
            yield prefix + (index,)
            yield from _paths(value, prefix + (index,))


def _parent(doc: Any, path: tuple) -> Any:
    for part in path[:-1]:
        doc = doc[part]
    return doc


@pytest.mark.parametrize("name", sorted(RAW))
def test_wrong_type_at_every_field_of_a_real_sample(name: str) -> None:
    doc = orjson.loads(RAW[name])
    paths = list(_paths(doc))
    assert paths
    escaped: list[str] = []
    for path in paths:
        parent = _parent(doc, path)
        original = parent[path[-1]]
        for wrong in WRONG:
            parent[path[-1]] = wrong
            origin = f"{name} {'.'.join(map(str, path))} = {wrong!r:.40}"
            # merge_document itself may only refuse with a reason, never crash:
            # to_job's generic catch is the last line of defence, not the plan.
            try:
                _check(merge_document(doc, origin), origin, ("month",))
            except RejectedDocument as refused:
                _check(refused.rejection, origin)
            except Exception as exc:  # collected so one run shows every crash
                escaped.append(f"{origin}: {type(exc).__name__}: {exc}")
        parent[path[-1]] = original
    assert not escaped, "\n".join(escaped[:20])


@pytest.mark.parametrize("name", ["ProductionFailedFwjr.json", "raw_wmagent_fwjr_2023_go_doc.json", "fwjr_merge.json"])
def test_removing_any_field_still_gives_job_or_reason(name: str) -> None:
    doc = orjson.loads(RAW[name])
    for path in _paths(doc):
        mutated = copy.deepcopy(doc)
        parent = _parent(mutated, path)
        del parent[path[-1]]
        origin = f"{name} without {'.'.join(map(str, path))}"
        result = to_job(origin, mutated)
        _check(result, origin)
        if type(result) is Rejection:
            assert "could not be merged" not in result.reason, f"{origin}: {result.reason}"
