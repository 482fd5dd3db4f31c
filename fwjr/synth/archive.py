"""The WMArchive layout: OUT/YYYY/MM/DD/fwjr-YYYYMMDD-NNN.avro|jsonl, foldered by report time (UTC).

Agent envelopes go into jsonl as they are and into Avro in archive form (the codec reshapes
them with fwjr.merge.archive_form), so both formats hold the same jobs.

Both formats also reject the same documents. Avro cannot hold what is not a document (raw
bytes), nor a report time given as something other than a number (`"ts": "yesterday"`): the
schema's long would lose the value and the copy would take its time from the steps and count,
where the original is rejected. WMArchive's own writer refuses such a document, so here it is
left out of the Avro archive and counted as `skipped`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

import fastavro
import orjson

from fwjr.avro_codec import ARCHIVE_SCHEMA, prepare_for_avro
from fwjr.synth.drift import Document
from fwjr.synth.model import DEFAULT_START_TS

MAX_OPEN_AVRO_FILES = 64
_ENVELOPE_TIMES = ("timestamp", "time_stamp")


def document_ts(doc: Document) -> int | None:
    """The report's time as epoch seconds when it has a usable one, else None.

    `meta_data.ts` (also "123" and $numberLong); for an agent envelope without meta_data,
    its `timestamp` or 2015 `time_stamp`.
    """
    if not isinstance(doc, dict):
        return None
    meta = doc.get("meta_data")
    if isinstance(meta, dict):
        value = meta.get("ts")
    elif isinstance(doc.get("fwjr"), dict) and "steps" not in doc:
        value = next((doc[key] for key in _ENVELOPE_TIMES if doc.get(key) is not None), None)
    else:
        return None
    if isinstance(value, dict):
        value = value.get("$numberLong")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _unusable_ts(doc: dict) -> bool:
    """A report time is given but is no epoch time (the document is rejected as it is)."""
    meta = doc.get("meta_data")
    given = meta.get("ts") if isinstance(meta, dict) else next((doc.get(k) for k in _ENVELOPE_TIMES if doc.get(k) is not None), None)
    return given is not None and document_ts(doc) is None


def _file_key(ts: int, files_per_day: int) -> tuple[str, str]:
    moment = datetime.fromtimestamp(ts, tz=timezone.utc)
    part = (moment.hour * 3600 + moment.minute * 60 + moment.second) * files_per_day // 86400
    return moment.strftime("%Y/%m/%d"), f"fwjr-{moment:%Y%m%d}-{part:03d}"


class _AvroFiles:
    """Open Avro writers per archive file; the least recently used are closed and later appended to."""

    def __init__(self, out_dir: Path, codec: str) -> None:
        self.out_dir = out_dir
        self.codec = codec
        self.open: OrderedDict[Path, tuple] = OrderedDict()
        self.paths: set[Path] = set()

    def write(self, folder: str, stem: str, doc: dict) -> None:
        path = self.out_dir / folder / f"{stem}.avro"
        entry = self.open.get(path)
        if entry is None:
            if len(self.open) >= MAX_OPEN_AVRO_FILES:
                _, (handle, writer) = self.open.popitem(last=False)
                writer.flush()
                handle.close()
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(path, "a+b" if path in self.paths else "wb")
            writer = fastavro.write.Writer(handle, ARCHIVE_SCHEMA, codec=self.codec)
            entry = self.open[path] = (handle, writer)
            self.paths.add(path)
        self.open.move_to_end(path)
        entry[1].write(prepare_for_avro(doc))

    def close(self) -> None:
        for handle, writer in self.open.values():
            writer.flush()
            handle.close()
        self.open.clear()


def write_archive(
    docs: Iterable[Document],
    out_dir: Path | str,
    fmt: str = "avro",
    files_per_day: int = 24,
    codec: str = "deflate",
) -> dict:
    """Write documents into the WMArchive layout OUT/YYYY/MM/DD/*.avro|jsonl, foldered by `meta_data.ts` (UTC).

    A day is split into `files_per_day` files by time of day. Malformed items (bytes, or
    dicts without a usable ts) cannot be foldered by time: they go into the file of the
    document before them, as a buffer would have passed them on, so that consumers of
    either format see (and reject) the same documents. Avro cannot hold raw bytes or a report
    time that is no number, so in Avro those are only counted (`skipped`; see the module's
    docstring).
    Returns {documents, files, bytes, malformed, duplicates, skipped}; `documents` counts
    the well-formed documents written, duplicates included.
    """
    if fmt not in ("avro", "jsonl"):
        raise ValueError(f"archive format must be 'avro' or 'jsonl', got {fmt!r}")
    if files_per_day < 1:
        raise ValueError(f"files_per_day must be >= 1, got {files_per_day}")
    out = Path(out_dir)
    summary = {"documents": 0, "files": 0, "bytes": 0, "malformed": 0, "duplicates": 0, "skipped": 0}
    seen: set[str] = set()
    avro = _AvroFiles(out, codec) if fmt == "avro" else None
    jsonl: dict[Path, object] = {}
    key = _file_key(DEFAULT_START_TS, files_per_day)
    try:
        for doc in docs:
            ts = document_ts(doc)
            if ts is None:
                summary["malformed"] += 1
            else:
                key = _file_key(ts, files_per_day)
                summary["documents"] += 1
                wmaid = doc.get("wmaid")
                if isinstance(wmaid, str):
                    summary["duplicates"] += wmaid in seen
                    seen.add(wmaid)
            if avro is None:
                raw = doc if isinstance(doc, bytes) else orjson.dumps(doc)
                _jsonl_handle(jsonl, out, key).write(raw.replace(b"\n", b" ") + b"\n")
            elif isinstance(doc, dict) and not _unusable_ts(doc):
                avro.write(*key, doc)
            else:
                summary["skipped"] += 1
    finally:
        if avro is not None:
            avro.close()
        for handle in jsonl.values():
            handle.close()
    written = avro.paths if avro is not None else set(jsonl)
    summary["files"] = len(written)
    summary["bytes"] = sum(path.stat().st_size for path in written)
    return summary


def _jsonl_handle(handles: dict, out: Path, key: tuple[str, str]):
    path = out / key[0] / f"{key[1]}.jsonl"
    handle = handles.get(path)
    if handle is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = handles[path] = open(path, "wb")
    return handle
