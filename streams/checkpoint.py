"""The stream worker's exactly-once commit protocol, in one place.

The sink is the source of truth for what was consumed (the pattern of Quix Streams'
checkpoints and Kafka Connect sinks): Kafka offsets only trail the store, and what the store
holds is decided by one ledger row per batch and partition.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from fwjr.store import ledger as store_ledger
from fwjr.store.connection import Store
from streams.sink import BatchWrite, TableInsert

log = logging.getLogger("fwjr.worker")


@dataclass(frozen=True, slots=True)
class Recovery:
    """What `CommitProtocol.recover` found and did for some partitions of a topic.

    `deleted`: the batches whose rows were removed (debris of a crash before their ledger
    mark); `committed`: the ledger's last offset per (topic, partition), at or below which a
    redelivered message is skipped; `identities`: the job identities already counted, reloaded
    so a redelivered or repeated job counts once.
    """

    topic: str
    partitions: tuple[int, ...]
    deleted: tuple[str, ...]
    committed: dict[tuple[str, int], int]
    identities: frozenset[str]

    def describe(self) -> str:
        return (
            f"{self.topic} partitions {list(self.partitions)}: deleted {len(self.deleted)} uncommitted batches "
            f"{list(self.deleted)}, resume after offsets {self.committed}, {len(self.identities)} identities remembered"
        )


class CommitProtocol:
    """How a batch becomes durable exactly once, and how a crash at any step is repaired.

    Commit order (a batch's steps, batches strictly in the order they were taken):

    1. **Prepare** (`streams.preparer.BatchPreparer.prepare`, in the helper process): decode,
       merge, dedupe against the identities already counted, fold; publish the job records
       (`fwjr.jobs`) and dead letters (`fwjr.dlq`) and flush them, so both topics are
       at-least-once; build every insert (`streams.sink.store_tables`), each row tagged with
       its partition's batch id `topic/partition/first-last`. The helper's pipeline then takes
       the batch's offsets as counted (`Pipeline.committed_through`).
    2. **Insert the rows** (`insert`, in the store owner): one insert per table, in the order
       `store_tables` gives (agg, errors, jobs, error_examples, dlq_counts).
    3. **Mark the batch committed** (`mark`): one insert into `ingest_batches`, a row per
       partition with the batch's last offset. A single-part insert into an unpartitioned
       table, so it is atomic: from here on the store holds the batch.
    4. **Release the offsets** (`release`): ack the batch's events; Faust commits them to
       Kafka within `broker_commit_interval`. Nothing happens between 3 and 4, so "after the
       ledger write" and "before the offset commit" are one crash point.

    A failed attempt at 2-3 (the store refused or went away) is retried by the writer after
    `undo` removed whatever part of the batch went in, so a retry never doubles a table.

    Recovery (`recover`), on start and on every partition assignment, before any batch of
    those partitions is prepared, in this order:

    R1. delete the rows of every batch of the partitions whose first offset lies beyond the
        ledger's (a crash between 2 and 3 left them; `delete_debris`);
    R2. read the ledger's last offset per partition (`committed_offsets`): Kafka redelivers
        from its own committed offset, which may trail the ledger (a crash between 3 and 4),
        and the pipeline skips every message at or below the ledger's;
    R3. reload the identities counted within the dedupe retention from `jobs`
        (`counted_identities`), after R1 so that no debris job is remembered: a job repeated
        after the crash (or redelivered in a batch the ledger has) counts once.

    So a crash after 1 loses nothing (Kafka redelivers, R3 dedupes against earlier batches);
    after any insert of 2, R1 removes the partial batch; after 3, R2 skips the redelivery;
    after 4, R3 keeps later repeats of the batch's jobs out.
    """

    def __init__(self, store: Store, dedupe_days: int) -> None:
        self.store = store
        self.dedupe_days = dedupe_days

    # ---------------------------------------------------------------- the steps of one batch

    def insert(self, insert: TableInsert) -> None:
        """Step 2, one table: the batch's rows of that table."""
        table, columns, stream = insert
        self.store.insert_arrow_stream(table, columns, stream)

    def mark(self, write: BatchWrite) -> None:
        """Step 3: the ledger marker; after it the batch is committed."""
        if write.ledger is not None:
            self.insert(write.ledger)

    def write(self, write: BatchWrite) -> None:
        """Steps 2 and 3 for one batch."""
        for insert in write.rows:
            self.insert(insert)
        self.mark(write)

    def undo(self, write: BatchWrite) -> None:
        """Before a retry of steps 2-3: delete every row a failed attempt of this batch left.

        If the failed attempt did write its ledger mark (a server that committed but could not
        answer), the retry writes the same rows and an equal mark again: still counted once.
        """
        store_ledger.delete_batches(self.store, write.batches)

    @staticmethod
    def release(on_durable: Callable[[], None]) -> None:
        """Step 4: let the batch's offsets be committed to Kafka (acks its events)."""
        on_durable()

    # ---------------------------------------------------------------- recovery

    def recover(self, topic: str, partitions: list[int]) -> Recovery:
        """R1-R3 for these partitions of `topic`; what was done is logged and returned."""
        deleted = self.delete_debris(topic, partitions)
        committed = self.committed_offsets(topic)
        identities = self.counted_identities()
        recovery = Recovery(topic, tuple(partitions), tuple(deleted), committed, frozenset(identities))
        # A repaired crash is worth an operator's look; a clean resume is routine.
        log.log(logging.WARNING if deleted else logging.INFO, "recovered %s", recovery.describe())
        return recovery

    def delete_debris(self, topic: str, partitions: list[int]) -> list[str]:
        """R1: the uncommitted batches of these partitions, deleted from every batch-tagged table."""
        return store_ledger.delete_uncommitted(self.store, topic, partitions)

    def committed_offsets(self, topic: str) -> dict[tuple[str, int], int]:
        """R2: the ledger's last offset per (topic, partition)."""
        return {(topic, partition): offset for partition, offset in store_ledger.committed_offsets(self.store, topic).items()}

    def counted_identities(self) -> set[str]:
        """R3: identities of the jobs stored within the dedupe retention."""
        return store_ledger.recent_identities(self.store, int(time.time()) - self.dedupe_days * 86400)
