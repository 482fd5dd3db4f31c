"""The exactly-once ledger's reads and deletes: what the worker's recovery runs.

The commit protocol that writes the ledger is streams/checkpoint.py's CommitProtocol; this
module finds and removes the debris of a batch that crashed before its ledger row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from fwjr.store.connection import Store
from fwjr.store.schema import BATCH_TABLES


def committed_offsets(store: Store, topic: str) -> dict[int, int]:
    """The last committed offset per partition of `topic` (resume from offset + 1)."""
    sql = "SELECT `partition`, max(last_offset) FROM ingest_batches WHERE topic = {topic:String} GROUP BY `partition`"
    return {partition: offset for partition, offset in store.rows(sql, {"topic": topic})}


def stream_batch_range(batch: str) -> tuple[str, int, int, int] | None:
    """(topic, partition, first, last offset) of a stream batch id "<topic>/<partition>/<first>-<last>"."""
    parts = batch.split("/")
    if len(parts) != 3:
        return None
    first, _, last = parts[2].partition("-")
    try:
        return parts[0], int(parts[1]), int(first), int(last)
    except ValueError:
        return None


def uncommitted_batches(store: Store, topic: str, partitions: Iterable[int]) -> list[str]:
    """Stream batches of these partitions that have rows but start beyond the committed offset.

    Judged by offsets rather than by ledger membership, so it stays right however long ago a
    committed batch was written (TTL rollups keep a batch id for years). Replay and offline rows
    (batch "" or ids not shaped like a stream batch) are never considered.
    """
    wanted = set(partitions)
    committed = committed_offsets(store, topic)
    union = " UNION ALL ".join(
        f"SELECT DISTINCT batch FROM {t} WHERE startsWith(batch, {{prefix:String}})" for t in BATCH_TABLES
    )
    found = store.rows(f"SELECT DISTINCT batch FROM ({union})", {"prefix": f"{topic}/"})
    debris = []
    for (batch,) in found:
        parsed = stream_batch_range(batch)
        if parsed is None or parsed[0] != topic or parsed[1] not in wanted:
            continue
        if parsed[2] > committed.get(parsed[1], -1):
            debris.append(batch)
    return sorted(debris)


def delete_uncommitted(store: Store, topic: str, partitions: Iterable[int]) -> list[str]:
    """Delete the debris of crashed flushes of these partitions (see uncommitted_batches); the batches removed."""
    debris = uncommitted_batches(store, topic, partitions)
    delete_batches(store, debris)
    return debris


def recent_identities(store: Store, since: int) -> set[str]:
    """Identities of the jobs stored with ts >= since, to keep deduping across a restart."""
    sql = "SELECT DISTINCT identity FROM jobs WHERE ts >= toDateTime({since:Int64}, 'UTC')"
    return {row[0] for row in store.rows(sql, {"since": int(since)})}


def delete_batches(store: Store, batches: Sequence[str]) -> None:
    """Delete every row of these batches from all batch-tagged tables, waiting until done."""
    if not batches:
        return
    for table in BATCH_TABLES:
        store.command(
            f"ALTER TABLE {table} DELETE WHERE batch IN {{batches:Array(String)}}",
            {"batches": list(batches)},
            settings={"mutations_sync": 2},
        )
