"""Reading FWJRs from files and Kafka messages: bytes -> documents -> jobs or rejections.

Accepted: JSON (one report, a list, or a `{"data": [...]}` envelope), JSON lines,
Avro container files (any writer schema, the archive's among them), Avro
single-object messages, and archive trees `ROOT/YYYY/MM/DD/*`. Anything that cannot
be read becomes a Rejection with the file and line or message it came from.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from fwjr.errors import RejectedDocument
from fwjr.merge import merge_document
from fwjr.model import Job, Rejection

DOCUMENT_SUFFIXES = (".json", ".jsonl", ".ndjson", ".avro")
AVRO_SINGLE_OBJECT_MARKER = b"\xc3\x01"
CONTENT_TYPE_JSON = "application/json"
CONTENT_TYPE_AVRO = "avro/binary"

Document = Any
Item = tuple[str, Document | Rejection]


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files named directly, and every document file below a named folder, in sorted order."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(p for p in sorted(path.rglob("*")) if p.is_file() and p.suffix in DOCUMENT_SUFFIXES)
        else:
            files.append(path)
    return files


def iter_documents(path: Path) -> Iterator[Item]:
    """(source, document or Rejection) for every report in one file."""
    source = str(path)
    if not path.exists():
        yield source, Rejection(reason="file not found", field="<file>", value=repr(source), source=source)
        return
    if path.suffix == ".avro":
        yield from _avro_documents(path)
    elif path.suffix in (".jsonl", ".ndjson"):
        yield from _jsonl_documents(path)
    else:
        yield from _json_documents(path)


def _avro_documents(path: Path) -> Iterator[Item]:
    from fwjr.avro_codec import read_avro_file

    source = str(path)
    index = 0
    try:
        for index, doc in enumerate(read_avro_file(path)):
            yield f"{source}#{index}", doc
    except Exception as exc:  # a corrupt container: report where reading stopped
        yield f"{source}#{index}", Rejection(
            reason=f"unreadable Avro data ({type(exc).__name__}: {exc})", field="<file>", value="", source=source
        )


def _jsonl_documents(path: Path) -> Iterator[Item]:
    source = str(path)
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.strip()  # what `fwjr produce` sends of the line: the same bytes, the same verdict
            if not line:
                continue
            yield f"{source}:{number}", decode_json(line, f"{source}:{number}")


def _json_documents(path: Path) -> Iterator[Item]:
    source = str(path)
    decoded = decode_json(path.read_bytes(), source)
    if type(decoded) is list:
        for index, doc in enumerate(decoded):
            yield f"{source}[{index}]", doc
    else:
        yield source, decoded


def decode_json(data: bytes, source: str) -> Document | Rejection:
    """Parsed JSON, or a Rejection naming the position where parsing failed."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        return Rejection(reason=f"invalid JSON: {exc}", field="<document>", value=_preview(data), source=source)


def decode_message(value: bytes | None, content_type: str | None, source: str) -> Document | Rejection:
    """A Kafka message's document: Avro single-object frames by their marker, JSON otherwise."""
    if not value:
        return Rejection(reason="empty message", field="<message>", value="b''", source=source)
    if value[:2] == AVRO_SINGLE_OBJECT_MARKER or content_type == CONTENT_TYPE_AVRO:
        from fwjr.avro_codec import decode_single

        try:
            return decode_single(value)
        except Exception as exc:
            return Rejection(
                reason=f"undecodable Avro single-object message ({exc})",
                field="<message>",
                value=_preview(value),
                source=source,
            )
    return decode_json(value, source)


def to_job(source: str, doc: Document | Rejection) -> Job | Rejection:
    """The merged job for a decoded document, or the Rejection that explains why there is none."""
    if type(doc) is Rejection:
        return doc
    try:
        return merge_document(doc, source)
    except RejectedDocument as exc:
        return exc.rejection
    except (TypeError, ValueError, AttributeError, KeyError, OverflowError, RecursionError) as exc:
        return Rejection(
            reason=f"document could not be merged ({type(exc).__name__}: {exc})",
            field="<document>",
            value="",
            source=source,
        )


def read_jobs(paths: Iterable[str | Path]) -> Iterator[Job | Rejection]:
    """Jobs and rejections for every report under the given paths, in file order."""
    for path in expand_paths(paths):
        for source, doc in iter_documents(path):
            yield to_job(source, doc)


def _preview(data: bytes) -> str:
    text = repr(bytes(data[:80]))
    return text + ("..." if len(data) > 80 else "")
