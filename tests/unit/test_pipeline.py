"""The worker's pure pipeline on its own: skipping what the ledger holds, dedupe, dead letters.

These are the pieces the commit protocol's recovery relies on (streams/checkpoint.py): the
offsets a pipeline is built with are skipped, the identities it is given are not counted
again, and `committed_through` keeps a batch from being counted twice by the same pipeline.
"""

from __future__ import annotations

import orjson

from fwjr.aggregate import Aggregator
from fwjr.model import Rejection
from fwjr.reader import decode_json, decode_message, to_job
from fwjr.synth.feed import generate_documents
from streams.pipeline import Message, Pipeline, batch_id

TOPIC = "fwjr.raw"
START = 1_790_000_000


def _docs(count: int, seed: int) -> list[dict]:
    return [d for d in generate_documents(count, seed, start_ts=START, minutes=30, malformed_share=0, duplicate_share=0, drift_share=0)]


def _messages(docs: list, partition: int = 0, first: int = 0) -> list[Message]:
    return [
        Message(TOPIC, partition, first + n, doc if isinstance(doc, bytes) else orjson.dumps(doc))
        for n, doc in enumerate(docs)
    ]


def _identity(doc: dict) -> str:
    job = to_job("test", decode_json(orjson.dumps(doc), "test"))
    assert type(job) is not Rejection, job
    return job.identity


def _jobs(flush) -> int:
    return sum(len(part.jobs) for part in flush.partitions)


def test_offsets_at_or_below_the_committed_one_are_skipped_per_partition() -> None:
    docs = _docs(20, 1)
    pipeline = Pipeline(committed={(TOPIC, 0): 4})
    flush = pipeline.process(_messages(docs[:10], 0) + _messages(docs[10:], 1))
    assert flush.skipped == 5
    by_partition = {part.partition: part for part in flush.partitions}
    assert (by_partition[0].first_offset, by_partition[0].last_offset) == (5, 9)
    assert by_partition[0].batch == batch_id(TOPIC, 0, 5, 9) == f"{TOPIC}/0/5-9"
    assert (by_partition[1].first_offset, by_partition[1].last_offset, len(by_partition[1].jobs)) == (0, 9, 10)
    assert len(by_partition[0].jobs) == 5


def test_a_batch_that_is_all_below_the_ledger_has_no_partitions() -> None:
    flush = Pipeline(committed={(TOPIC, 0): 99}).process(_messages(_docs(10, 2)))
    assert (flush.partitions, flush.skipped, flush.duplicates) == ([], 10, 0)


def test_committed_through_makes_the_same_pipeline_skip_a_redelivered_batch() -> None:
    messages = _messages(_docs(12, 3))
    pipeline = Pipeline()
    first = pipeline.process(messages)
    pipeline.committed_through(first)
    assert pipeline.committed == {(TOPIC, 0): 11}
    again = pipeline.process(messages)
    assert (again.partitions, again.skipped, again.duplicates) == ([], 12, 0)


def test_without_committed_through_a_redelivery_is_caught_only_by_the_identities() -> None:
    messages = _messages(_docs(12, 3))
    pipeline = Pipeline()
    assert _jobs(pipeline.process(messages)) == 12
    again = pipeline.process(messages)
    assert (again.skipped, again.duplicates, _jobs(again)) == (0, 12, 0)


def test_committed_through_never_moves_a_partition_back() -> None:
    pipeline = Pipeline(committed={(TOPIC, 0): 50})
    flush = pipeline.process(_messages(_docs(3, 4), 0, first=60))
    pipeline.committed_through(flush)
    older = Pipeline().process(_messages(_docs(3, 5), 0, first=10))
    pipeline.committed_through(older)
    assert pipeline.committed == {(TOPIC, 0): 62}


def test_identities_given_at_start_are_not_counted_again() -> None:
    docs = _docs(10, 6)
    remembered = {_identity(doc) for doc in docs[:4]}
    flush = Pipeline(seen=set(remembered)).process(_messages(docs))
    assert flush.duplicates == 4
    assert {job.identity for part in flush.partitions for job, _ in part.jobs} == {_identity(d) for d in docs[4:]}


def test_duplicates_within_a_batch_and_across_batches_count_once() -> None:
    docs = _docs(10, 7)
    pipeline = Pipeline()
    first = pipeline.process(_messages(docs[:6] + docs[:2]))
    assert (first.duplicates, _jobs(first)) == (2, 6)
    pipeline.committed_through(first)
    second = pipeline.process(_messages(docs[4:], first=8))
    assert (second.duplicates, _jobs(second)) == (2, 4)
    offline = Aggregator("minute")
    for doc in docs:
        offline.add(to_job("test", decode_json(orjson.dumps(doc), "test")))
    counted = Aggregator("minute")
    for flush in (first, second):
        for part in flush.partitions:
            for key, vector in part.aggregator.rows.items():
                row = counted.rows.setdefault(key, [0] * len(vector))
                for i, value in enumerate(vector):
                    row[i] += value
    assert counted.rows == offline.rows


def test_rejected_messages_become_dead_letters_with_the_readers_reason() -> None:
    bad = [b"{not json", orjson.dumps({"meta_data": {}}), b""]
    flush = Pipeline().process(_messages(bad + _docs(2, 8)))
    (part,) = flush.partitions
    assert len(part.dead) == 3 and len(part.jobs) == 2
    for letter, value in zip(part.dead, bad):
        expected = to_job(letter.rejection.source, decode_message(value, None, letter.rejection.source))
        assert type(expected) is Rejection
        assert (letter.message.value, letter.rejection.reason, letter.rejection.field) == (value, expected.reason, expected.field)
        assert dict(letter.headers()) == {
            "reason": expected.reason.encode(),
            "field": expected.field.encode(),
            "source": letter.rejection.source.encode(),
        }
    assert part.dead[0].rejection.source == f"{TOPIC}/0@0"
