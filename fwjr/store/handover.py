"""A replay's rows into the store: directly, or handed over to the process that owns it.

An embedded chDB store can be opened by one process only. While `fwjr up` runs, its worker
owns the store, so the replay's rows travel to it over HTTP (dashboard/replay_api.py) and
the owner performs the replace with its own Store, whose lock also keeps its stream writes
out of the swap. With a ClickHouse server, or when nobody owns the embedded store, the
replay process connects and replaces the range itself.

Wire format of the hand-over (POST body, Arrow because a day of minute rows is large):
    MAGIC, then for the aggregate rows and the error rows in turn:
    8-byte big-endian length, an Arrow IPC stream of that many bytes.
Range and batch id travel as query parameters.
"""

from __future__ import annotations

import io
import struct
from typing import Any

import pyarrow as pa

from fwjr.config import Settings
from fwjr.store.client import direct_or_owner, owner_post, owner_url
from fwjr.store.connection import Store

MAGIC = b"FWJR-REPLAY-1\n"
CONTENT_TYPE = "application/vnd.fwjr.replay"
ENDPOINT = "/api/v1/replay/load"
_LENGTH = struct.Struct(">Q")
TIMEOUT_SECONDS = 600


def encode_rows(aggregates: pa.Table, errors: pa.Table) -> bytes:
    """The POST body: both tables as length-prefixed Arrow IPC streams."""
    out = io.BytesIO()
    out.write(MAGIC)
    for table in (aggregates, errors):
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        payload = sink.getvalue().to_pybytes()
        out.write(_LENGTH.pack(len(payload)))
        out.write(payload)
    return out.getvalue()


def decode_rows(body: bytes) -> tuple[pa.Table, pa.Table]:
    """(aggregates, errors) from a POST body made by encode_rows; ValueError says what is wrong."""
    if not body.startswith(MAGIC):
        raise ValueError(f"replay body does not start with {MAGIC!r} (got {body[:16]!r}): not made by `fwjr replay`")
    position = len(MAGIC)
    tables = []
    for name in ("aggregates", "errors"):
        if position + _LENGTH.size > len(body):
            raise ValueError(f"replay body ends before the {name} table (at byte {position} of {len(body)})")
        (length,) = _LENGTH.unpack_from(body, position)
        position += _LENGTH.size
        if position + length > len(body):
            raise ValueError(f"replay body: the {name} table claims {length} bytes, only {len(body) - position} follow")
        tables.append(pa.ipc.open_stream(body[position:position + length]).read_all())
        position += length
    return tables[0], tables[1]


def replace_in_store(settings: Settings, start: int, end: int, aggregates: pa.Table, errors: pa.Table, batch: str) -> dict[str, Any]:
    """Replace [start, end) with these rows: in this process, or in the owner's when the store is busy.

    Returns the ReplaceSummary as a dict, plus `via`: "store" or the owner's URL.
    """
    return direct_or_owner(
        settings,
        lambda store: {**replace_owned(store, settings, start, end, aggregates, errors, batch), "via": "store"},
        lambda: post_to_owner(settings, start, end, aggregates, errors, batch),
    )


def replace_owned(store: Store, settings: Settings, start: int, end: int, aggregates: pa.Table, errors: pa.Table, batch: str) -> dict[str, Any]:
    """The replace itself, on a Store this process holds (also what the owner's endpoint calls)."""
    from fwjr.store.migrate import ladder_parameters, migrate
    from fwjr.store.replace import replace_range

    migrate(store, ladder_parameters(settings))
    return replace_range(store, start, end, aggregates, errors, batch).as_dict()


def post_to_owner(settings: Settings, start: int, end: int, aggregates: pa.Table, errors: pa.Table, batch: str) -> dict[str, Any]:
    """Hand the rows to the store's owner (POST ENDPOINT with a replay:write token)."""
    from fwjr.ops.replay_token import read as replay_token

    token = replay_token(settings)
    if token is None:
        raise RuntimeError(
            f"the embedded store is owned by the board at {owner_url(settings, ENDPOINT)}, which takes replays with a token of "
            f"scope replay:write: set FWJR_REPLAY_TOKEN, or start the stack with `fwjr up` (it leaves one in {settings.replay_token_file})"
        )
    summary = owner_post(settings, ENDPOINT, {"start": start, "end": end, "batch": batch}, encode_rows(aggregates, errors),
                         CONTENT_TYPE, token, TIMEOUT_SECONDS, "the replay")
    return {**summary, "via": owner_url(settings, ENDPOINT)}
