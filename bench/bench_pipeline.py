"""CPU the stream worker's helper process spends per FWJR, without Kafka, and where it goes.

Generates N FWJRs with fwjr.synth (drift, duplicates and malformed bytes as on the live
feed; a share of them Avro single-object encoded with --avro-share), as the Kafka message
values the helper receives, then measures in one process, on the same messages:

  baseline   `orjson.loads` of every message value: nothing that reads the JSON can be cheaper
  helper     streams.preparer.BatchPreparer.prepare on batches of the worker's batch size: the
             pipeline (decode, validate, dedupe, merge, bucket, fold), the job records and
             dead letters for publishing (a producer that drops them), and the store inserts
             as Arrow IPC streams (streams.sink.store_tables)
  breakdown  the same work in growing prefixes, batch by batch: decode (fwjr.reader.decode_message),
             + merge (fwjr.reader.to_job), + fold (Pipeline.process: dedupe, bucket, Aggregator),
             + rows and Arrow (store_tables), + publish (prepare: job records, dead letters,
             outcomes); a stage's figure is the difference of two prefixes, each run like
             the helper runs it (the cyclic garbage collector paused per batch)

Figures are CPU-microseconds per FWJR (time.process_time, so other work on the machine skews
them less than wall time) and ratios to the baseline of the same run. Each measurement is
repeated and its best run kept; a stage is the difference of its prefixes' best runs. On a
machine shared with other benchmarks, absolute figures still move by up to a third between
runs: compare the ratios, or old and new code interleaved in one process (docs/merge.md).
`--profile OUT` also writes a cProfile of the helper stage.

    .venv/bin/python bench/bench_pipeline.py [--count 30000] [--batch 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import time
import zlib
from collections.abc import Callable

import orjson

from fwjr.avro_codec import encode_single
from fwjr.gcpause import collector_paused
from fwjr.kafka.publish import message_key
from fwjr.reader import CONTENT_TYPE_AVRO, CONTENT_TYPE_JSON, decode_message, to_job
from fwjr.synth import generate_documents
from streams.pipeline import Message, Pipeline
from streams.preparer import BatchPreparer
from streams.sink import store_tables

PARTITIONS = 4


class _DroppingProducer:
    """Stands in for confluent_kafka.Producer: takes every record, sends nothing."""

    def produce(self, topic: str, value: bytes, key: bytes | None = None, headers: list | None = None) -> None:
        pass

    def poll(self, timeout: float) -> int:
        return 0

    def flush(self, timeout: float) -> int:
        return 0


def make_messages(count: int, seed: int, avro_share: float) -> list[Message]:
    """The generator's FWJRs as `fwjr.raw` messages, spread over partitions like the producer's keys."""
    start_ts = int(time.time()) - 3600
    messages: list[Message] = []
    offsets = [0] * PARTITIONS
    avro_every = round(1 / avro_share) if avro_share > 0 else 0
    for index, doc in enumerate(generate_documents(count, seed=seed, start_ts=start_ts, minutes=60)):
        if type(doc) is dict:
            key = message_key(doc)
            if avro_every and index % avro_every == 0:
                value, content_type = encode_single(doc), CONTENT_TYPE_AVRO
            else:
                value, content_type = orjson.dumps(doc), CONTENT_TYPE_JSON
        else:
            key, value, content_type = None, bytes(doc), CONTENT_TYPE_JSON
        partition = zlib.crc32(key) % PARTITIONS if key else index % PARTITIONS
        messages.append(Message("fwjr.raw", partition, offsets[partition], value, content_type, key))
        offsets[partition] += 1
    return messages


def batches(messages: list[Message], size: int) -> list[list[Message]]:
    return [messages[i : i + size] for i in range(0, len(messages), size)]


def best_cpu(run: Callable[[], dict[str, float]], repeat: int) -> dict[str, float]:
    """The smallest CPU seconds per figure over `repeat` runs."""
    best: dict[str, float] = {}
    for _ in range(repeat):
        for stage, seconds in run().items():
            best[stage] = min(seconds, best.get(stage, seconds))
    return best


def run_baseline(groups: list[list[Message]]) -> dict[str, float]:
    loads = orjson.loads
    started = time.process_time()
    for group in groups:
        for message in group:
            try:
                loads(message.value)
            except orjson.JSONDecodeError:
                pass
    return {"baseline": time.process_time() - started}


def run_helper(groups: list[list[Message]], profile: cProfile.Profile | None = None) -> dict[str, float]:
    preparer = BatchPreparer.__new__(BatchPreparer)  # no broker: its producer drops the records
    preparer.pipeline = Pipeline()
    preparer.producer = _DroppingProducer()
    started = time.process_time()
    if profile is not None:
        profile.enable()
    for group in groups:
        preparer.prepare(group)
    if profile is not None:
        profile.disable()
    return {"helper": time.process_time() - started}


PREFIXES = ("decode", "decode+merge", "pipeline", "pipeline+rows", "helper")
STAGES = ("decode", "merge", "fold", "rows+arrow", "publish")


def run_prefixes(groups: list[list[Message]]) -> dict[str, float]:
    """The helper's work in growing prefixes, each run as the helper runs it, batch by batch.

    Stages are differences of these prefixes rather than timed one by one over stored
    intermediates: keeping a whole batch of decoded documents alive would change what the
    garbage collector walks, and time a decode the helper never does. Like
    BatchPreparer.prepare, each prefix runs with the cyclic collector paused.
    """
    clock = time.process_time
    sources = [[f"{m.topic}/{m.partition}@{m.offset}" for m in group] for group in groups]
    spent: dict[str, float] = {}
    gc.collect()
    started = clock()
    for group, names in zip(groups, sources):
        with collector_paused():
            for message, source in zip(group, names):
                decode_message(message.value, message.content_type, source)
    spent["decode"] = clock() - started
    gc.collect()
    started = clock()
    for group, names in zip(groups, sources):
        with collector_paused():
            for message, source in zip(group, names):
                to_job(source, decode_message(message.value, message.content_type, source))
    spent["decode+merge"] = clock() - started
    for prefix, work in (("pipeline", lambda flush: None), ("pipeline+rows", store_tables)):
        pipeline = Pipeline()
        gc.collect()
        started = clock()
        for group in groups:
            with collector_paused():
                work(pipeline.process(group))
        spent[prefix] = clock() - started
    gc.collect()
    spent["helper"] = run_helper(groups)["helper"]
    return spent


def stages(prefixes: dict[str, float]) -> dict[str, float]:
    """Each stage's CPU seconds: the difference of the prefixes that end before and after it."""
    ends = [prefixes[name] for name in PREFIXES]
    return dict(zip(STAGES, [ends[0]] + [after - before for before, after in zip(ends, ends[1:])]))


def load_averages() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=30_000)
    parser.add_argument("--batch", type=int, default=10_000, help="messages per batch (the worker's FWJR_BATCH_SIZE)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=101)
    parser.add_argument("--avro-share", type=float, default=0.0, help="share of messages sent as Avro single objects")
    parser.add_argument("--profile", help="write a cProfile of the helper stage to this file")
    args = parser.parse_args()

    messages = make_messages(args.count, args.seed, args.avro_share)
    groups = batches(messages, args.batch)
    load_before = load_averages()
    figures = best_cpu(lambda: run_baseline(groups), args.repeat)
    figures |= best_cpu(lambda: run_prefixes(groups), args.repeat)
    figures |= stages(figures)
    load_after = load_averages()
    if args.profile:
        profile = cProfile.Profile()
        run_helper(groups, profile)
        profile.dump_stats(args.profile)

    count = len(messages)
    baseline = figures["baseline"]
    avro = sum(1 for m in messages if m.content_type == CONTENT_TYPE_AVRO)
    print(f"messages {count} ({avro} Avro), batches of {args.batch}, best of {args.repeat}; "
          f"load average {load_before} -> {load_after}")
    print(f"{'stage':22s} {'CPU-us/FWJR':>12s} {'x baseline':>11s} {'FWJR/CPU-s':>11s}")
    for stage in ("baseline", "helper", *STAGES):
        micros = 1e6 * figures[stage] / count
        rate = count / figures[stage] if figures[stage] else float("inf")
        label = {"baseline": "orjson.loads (baseline)", "helper": "helper (prepare)"}.get(stage, f"  {stage}")
        print(f"{label:22s} {micros:12.1f} {figures[stage] / baseline:11.2f} {rate:11.0f}")


if __name__ == "__main__":
    main()
