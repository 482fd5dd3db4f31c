"""The archive's Avro codec: conform documents to the schema, container files, single objects.

WMArchive stored FWJRs as Avro. Real documents drift from any schema (numbers as
strings, `site: {}`, `status: "Failed"`, extra keys), and fastavro refuses a datum that
does not match, so every write goes through `conform`, which bends a document onto the
schema instead of failing: the archive must hold every FWJR, imperfect or not.

`conform` is compiled once from the schema into a tree of small converter functions,
because walking the schema per document would cost more than the encoding itself.

Wire format for single messages (Kafka `fwjr.raw`): Avro single-object encoding, i.e.
marker C3 01, the 8-byte little-endian CRC-64-AVRO fingerprint of the schema's parsing
canonical form, then the schemaless binary body.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

SCHEMA_RESOURCE = "fwjr_archive.avsc"
SINGLE_OBJECT_MARKER = b"\xc3\x01"
_HEADER_LEN = len(SINGLE_OBJECT_MARKER) + 8

Converter = Callable[[Any], Any]


def load_schema_json() -> dict:
    """The archive schema as plain JSON, for tools (Spark, docs) that want it unparsed."""
    return json.loads((Path(__file__).parent / "data" / SCHEMA_RESOURCE).read_text(encoding="utf-8"))


ARCHIVE_SCHEMA: dict = fastavro.parse_schema(load_schema_json())
SCHEMA_FINGERPRINT: bytes = bytes.fromhex(
    fingerprint(to_parsing_canonical_form(ARCHIVE_SCHEMA), "CRC-64-AVRO")
)

# Mongo extended-JSON number wrappers found in exported documents.
_MONGO_NUMBER_KEYS = ("$numberLong", "$numberInt", "$numberDouble", "$numberDecimal")


def _unwrap(value: Any) -> Any:
    """A Mongo export's {"$numberLong": "12"} becomes "12"; anything else is unchanged."""
    if type(value) is dict and len(value) == 1:
        for key in _MONGO_NUMBER_KEYS:
            if key in value:
                return value[key]
    return value


def _to_long(value: Any) -> int | None:
    """An integer from an int, an integral float or a numeric string; None when there is none."""
    value = _unwrap(value)
    kind = type(value)
    if kind is int:
        return value
    if kind is bool:
        return int(value)
    if kind is float:
        return int(value) if math.isfinite(value) else None
    if kind is str:
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            return None
        return int(number) if math.isfinite(number) else None
    return None


def _to_double(value: Any) -> float | None:
    """A float from a number or a numeric string ("nan" and "inf" stay, they carry meaning)."""
    value = _unwrap(value)
    kind = type(value)
    if kind is float:
        return value
    if kind is int or kind is bool:
        return float(value)
    if kind is str:
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _to_string(value: Any) -> str | None:
    """A string; numbers become their decimal text, containers (`site: {}`) become None."""
    kind = type(value)
    if kind is str:
        return value
    if kind is int or kind is float:
        return str(value)
    if kind is bool:
        return "true" if value else "false"
    return None


def _to_boolean(value: Any) -> bool | None:
    kind = type(value)
    if kind is bool:
        return value
    if kind is int or kind is float:
        return value != 0
    if kind is str:
        text = value.strip().lower()
        if text in ("true", "1", "yes"):
            return True
        if text in ("false", "0", "no"):
            return False
    return None


def _to_scalar(value: Any) -> bool | float | str | None:
    """For open key->value maps: keep booleans, numbers as floats and strings."""
    value = _unwrap(value)
    kind = type(value)
    if kind is bool or kind is str or kind is float:
        return value
    if kind is int:
        return float(value)
    return None


_PRIMITIVES: dict[str, Converter] = {
    "long": _to_long,
    "int": _to_long,
    "double": _to_double,
    "float": _to_double,
    "string": _to_string,
    "boolean": _to_boolean,
}


def _compile(schema: Any, named: dict[str, Converter], tagged: bool) -> Converter:
    """Build the converter for one schema node; named records are compiled once and reused.

    `tagged` converters wrap every non-null record, array and map value of a union in
    fastavro's (branch name, value) tuple notation: without it fastavro finds the branch
    by validating the whole subtree at every nesting level, which made encoding several
    times slower.
    """
    if isinstance(schema, str):
        if schema in _PRIMITIVES:
            return _PRIMITIVES[schema]
        return lambda value, _name=schema: named[_name](value)
    if isinstance(schema, list):
        return _compile_union(schema, named, tagged)
    kind = schema["type"]
    if kind == "record":
        return _compile_record(schema, named, tagged)
    if kind == "array":
        return _compile_array(schema, named, tagged)
    if kind == "map":
        return _compile_map(schema, named, tagged)
    if kind in _PRIMITIVES:
        return _PRIMITIVES[kind]
    raise ValueError(f"archive schema: unsupported Avro type {kind!r} in {schema!r}")


def _branch_name(branch: Any) -> str:
    """The name fastavro's tuple notation uses for a union branch."""
    if isinstance(branch, dict):
        return branch["name"] if branch["type"] == "record" else branch["type"]
    return branch


def _compile_nullable(branches: list, named: dict[str, Converter], tagged: bool) -> Converter:
    """The converter of a union's value when it is not None (every field is ["null", T])."""
    non_null = [b for b in branches if b != "null"]
    if len(non_null) > 1:
        if all(isinstance(b, str) and b in _PRIMITIVES for b in non_null):
            return _to_scalar
        raise ValueError(f"archive schema: unsupported union {branches!r}")
    inner = _compile(non_null[0], named, tagged)
    if not tagged or (isinstance(non_null[0], str) and non_null[0] in _PRIMITIVES):  # no gain
        return inner
    tag = _branch_name(non_null[0])

    def convert_tagged(value: Any) -> Any:
        converted = inner(value)
        return None if converted is None else (tag, converted)

    return convert_tagged


def _compile_union(branches: list, named: dict[str, Converter], tagged: bool) -> Converter:
    inner = _compile_nullable(branches, named, tagged)
    return lambda value: None if value is None else inner(value)


def _compile_record(schema: dict, named: dict[str, Converter], tagged: bool) -> Converter:
    """Only the keys a document has are converted; the rest stay None from `fromkeys`."""
    names = [field["name"] for field in schema["fields"]]
    converters: dict[str, Converter] = {}

    def convert(value: Any) -> dict | None:
        if type(value) is not dict:
            return None
        out = dict.fromkeys(names)
        for key, element in value.items():
            conv = converters.get(key)
            if conv is not None and element is not None:
                out[key] = conv(element)
        return out

    named[schema["name"]] = convert
    for field in schema["fields"]:
        kind = field["type"]
        if isinstance(kind, list):
            converters[field["name"]] = _compile_nullable(kind, named, tagged)
        else:
            inner = _compile(kind, named, tagged)
            converters[field["name"]] = inner
    return convert


def _compile_array(schema: dict, named: dict[str, Converter], tagged: bool) -> Converter:
    """Items that cannot be converted are dropped: an array item cannot be null here."""
    item = _compile(schema["items"], named, tagged)

    def convert(value: Any) -> list | None:
        if type(value) is not list:
            return None
        out = []
        for element in value:
            converted = item(element) if element is not None else None
            if converted is not None:
                out.append(converted)
        return out

    return convert


def _compile_map(schema: dict, named: dict[str, Converter], tagged: bool) -> Converter:
    values = _compile(schema["values"], named, tagged)

    def convert(value: Any) -> dict | None:
        if type(value) is not dict:
            return None
        return {str(key): values(element) for key, element in value.items()}

    return convert


_CONFORM_ROOT: Converter = _compile(ARCHIVE_SCHEMA, {}, tagged=False)
_ENCODE_ROOT: Converter = _compile(ARCHIVE_SCHEMA, {}, tagged=True)


def conform(doc: dict) -> dict:
    """The document bent onto the archive schema, never failing on content.

    Unknown keys are dropped, missing ones become None, numbers given as text (or as
    Mongo `{"$numberLong": ...}`) are parsed, steps keyed by name become a list, and
    values that fit nowhere (`site: {}`, `status: "Failed"`) become None; the failure
    itself stays visible in the step's `errors`.
    """
    _require_object(doc)
    return _CONFORM_ROOT(_with_step_list(doc))


def prepare_for_avro(doc: dict) -> dict:
    """`conform`, with union branches named for fastavro: the form every writer here encodes."""
    _require_object(doc)
    return _ENCODE_ROOT(_with_step_list(doc))


def _with_step_list(doc: dict) -> dict:
    """The report in the archive's layout (fwjr.merge.archive_form), or as it is when it is no report.

    Envelopes, steps keyed by name and raw agent reports are reshaped so their Avro copy
    merges like the original; what cannot be a report is left for the reader to reject.
    """
    from fwjr.errors import RejectedDocument
    from fwjr.merge import archive_form

    try:
        return archive_form(doc)
    except RejectedDocument:
        return doc


def _require_object(doc: Any) -> None:
    if type(doc) is not dict:
        raise ValueError(f"FWJR document must be a JSON object, got {type(doc).__name__}: {repr(doc)[:200]}")


def write_avro_file(path: Path | str, docs: Iterable[dict], codec: str = "deflate") -> int:
    """Write an Avro container file with the archive schema; returns the number of records."""
    count = 0

    def conformed() -> Iterator[dict]:
        nonlocal count
        for doc in docs:
            count += 1
            yield prepare_for_avro(doc)

    with open(path, "wb") as out:
        fastavro.writer(out, ARCHIVE_SCHEMA, conformed(), codec=codec, validator=False)
    return count


def read_avro_file(path: Path | str) -> Iterator[dict]:
    """Documents of an Avro container file, decoded with the writer schema of its header.

    No reader schema is imposed, so files of any generation (the 2016 json2avsc schema,
    ours) read back as what was written.
    """
    with open(path, "rb") as source:
        yield from fastavro.reader(source)


def encode_single(doc: dict) -> bytes:
    """One document in Avro single-object encoding with the archive schema."""
    body = io.BytesIO()
    body.write(SINGLE_OBJECT_MARKER)
    body.write(SCHEMA_FINGERPRINT)
    fastavro.schemaless_writer(body, ARCHIVE_SCHEMA, prepare_for_avro(doc))
    return body.getvalue()


def is_single_object(data: bytes) -> bool:
    """Whether bytes start like an Avro single object (JSON never starts with C3 01)."""
    return data[:2] == SINGLE_OBJECT_MARKER


def decode_single(data: bytes) -> dict:
    """The document in an Avro single-object message written with the archive schema."""
    if len(data) < _HEADER_LEN or not is_single_object(data):
        raise ValueError(
            f"not an Avro single-object message: expected marker c301 and 8-byte fingerprint, "
            f"got {len(data)} bytes starting {bytes(data[:_HEADER_LEN]).hex()!r}"
        )
    found = bytes(data[2:_HEADER_LEN])
    if found != SCHEMA_FINGERPRINT:
        raise ValueError(
            f"Avro single-object message has unknown schema fingerprint {found.hex()} "
            f"(the archive schema's is {SCHEMA_FINGERPRINT.hex()})"
        )
    return fastavro.schemaless_reader(io.BytesIO(data[_HEADER_LEN:]), ARCHIVE_SCHEMA, None)
