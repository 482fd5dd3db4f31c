"""Arrow record batches of nested structs -> the dicts a fastavro decode of the same records gives.

The replay's fold takes plain dicts (what fwjr.merge reads). pyarrow's own `to_pylist` builds
them value by value through its scalar objects, which costs several times the merge itself
on FWJR records (about a hundred leaf values each). Here a converter is compiled once per
schema and works column by column: every leaf array is turned into a Python list in one call,
then lists are sliced by their offsets and zipped into dicts, level by level.

What the dicts hold is what fastavro returns for the Avro record:
- a struct is a dict of all its fields (None for null ones), a list a list, a map a dict;
- spark-avro has no type for a union of several non-null types (the archive's open
  `key -> boolean | double | string` maps) and makes it a struct of `member0`, `member1`, ...
  with one member set; here it becomes the value of that member, as fastavro gives it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pyarrow as pa

Convert = Callable[[pa.Array], list]
_UNION_MEMBER = re.compile(r"member[0-9]+")


def records_converter(schema: pa.Schema) -> Callable[[pa.RecordBatch], list[dict]]:
    """A function from a record batch of `schema` to one dict per row."""
    columns = [(field.name, _converter(field.type)) for field in schema]
    names = [name for name, _ in columns]

    def convert(batch: pa.RecordBatch) -> list[dict]:
        values = [conv(batch.column(index)) for index, (_, conv) in enumerate(columns)]
        return [dict(zip(names, row)) for row in zip(*values)]

    return convert


def _converter(kind: pa.DataType) -> Convert:
    if pa.types.is_struct(kind):
        names = [kind.field(i).name for i in range(kind.num_fields)]
        children = [_converter(kind.field(i).type) for i in range(kind.num_fields)]
        if names and all(_UNION_MEMBER.fullmatch(name) for name in names):
            return _union(children)
        return _struct(names, children)
    if pa.types.is_map(kind):
        return _map(_converter(kind.key_type), _converter(kind.item_type))
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _list(_converter(kind.value_type))
    return _leaf


def _leaf(array: pa.Array) -> list:
    return array.to_pylist()


def _with_nulls(array: pa.Array, values: list) -> list:
    """`values` with None where `array` is null."""
    if not array.null_count:
        return values
    valid = array.is_valid().to_pylist()
    return [value if ok else None for value, ok in zip(values, valid)]


def _fields(array: pa.StructArray, children: list[Convert]) -> list[list]:
    """Each child's values, one per row of `array` (its offset applied)."""
    return [child(array.field(index)) for index, child in enumerate(children)]


def _struct(names: list[str], children: list[Convert]) -> Convert:
    def convert(array: pa.StructArray) -> list:
        rows = [dict(zip(names, row)) for row in zip(*_fields(array, children))] if names else [{} for _ in range(len(array))]
        return _with_nulls(array, rows)

    return convert


def _union(children: list[Convert]) -> Convert:
    def convert(array: pa.StructArray) -> list:
        rows = [next((member for member in row if member is not None), None) for row in zip(*_fields(array, children))]
        return _with_nulls(array, rows)

    return convert


def _spans(array: pa.Array) -> list[tuple[int, int]]:
    offsets = array.offsets.to_pylist()
    return list(zip(offsets, offsets[1:]))


def _list(item: Convert) -> Convert:
    def convert(array: pa.ListArray) -> list:
        items = item(array.values)
        rows = [items[start:stop] for start, stop in _spans(array)]
        return _with_nulls(array, rows)

    return convert


def _map(key: Convert, item: Convert) -> Convert:
    def convert(array: pa.MapArray) -> list:
        entries = array.values
        keys, items = key(entries.field(0)), item(entries.field(1))
        rows = [dict(zip(keys[start:stop], items[start:stop])) for start, stop in _spans(array)]
        return _with_nulls(array, rows)

    return convert

