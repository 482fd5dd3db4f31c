"""Stream benchmark: broker -> worker -> store throughput, freshness, and the worker's memory.

Prints, from one run on this machine:
  - decode-only rate: a confluent-kafka consumer reading the same pre-loaded messages and
    orjson-decoding each (the baseline),
  - the Faust floor: a Faust agent that only takes batches of the same messages
    (bench/faust_floor.py), i.e. what the framework's per-event work allows by itself, with
    Faust's own consumer and with the worker's batched drain (streams/transport.py),
  - end-to-end rate of one worker process (first commit to everything committed), as FWJRs/s
    and as a ratio of the baseline,
  - freshness p50/p95 at a steady produce rate: produce time -> the worker group's committed
    offset passing the message. Offsets are committed only after the store holds the batch, so
    this is an upper bound of "visible to queries" (commits lag writes by <= 0.2 s),
  - CPU microseconds per FWJR and peak resident memory (VmHWM) of the worker and of its helper
    process (CPU per FWJR stays meaningful when other work shares the machine).

Usage: .venv/bin/python bench/bench_stream.py [--count 200000] [--rate 1000] [--seconds 30]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import orjson
from confluent_kafka import Consumer, TopicPartition

from fwjr.config import Settings
from fwjr.devstack.broker import KafkaBroker, default_cache_dir, ensure_kafka_jars, ensure_topics, free_port
from fwjr.kafka.producer import make_producer
from fwjr.kafka.publish import committed_offsets, end_offsets, message_key
from fwjr.synth import generate_documents
from fwjr.topics import CONSUMER_GROUP
from fwjr.topics import RAW as RAW_TOPIC
from streams.preparer import helper_pids

REPO = Path(__file__).resolve().parent.parent


def preload(bootstrap: str, count: int) -> int:
    producer = make_producer(bootstrap)
    sent = 0
    start_ts = int(time.time()) - 3600
    for doc in generate_documents(count, seed=101, start_ts=start_ts, minutes=60):
        value = doc if isinstance(doc, (bytes, bytearray)) else orjson.dumps(doc)
        key = None if isinstance(doc, (bytes, bytearray)) else message_key(doc)
        while True:
            try:
                producer.produce(RAW_TOPIC, value=bytes(value), key=key, headers=[("content-type", b"application/json")])
                break
            except BufferError:
                producer.poll(0.05)
        sent += 1
        producer.poll(0)
    producer.flush(120)
    return sent


def decode_only(bootstrap: str, count: int) -> float:
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"bench-{uuid.uuid4().hex}", "auto.offset.reset": "earliest", "enable.auto.commit": False}
    )
    consumer.subscribe([RAW_TOPIC])
    seen = 0
    started = None
    while seen < count:
        batch = consumer.consume(1000, timeout=1.0)
        if started is None and batch:
            started = time.perf_counter()
        for message in batch:
            if message.error() is None:
                try:
                    orjson.loads(message.value())
                except orjson.JSONDecodeError:
                    pass
                seen += 1
    elapsed = time.perf_counter() - started
    consumer.close()
    return seen / elapsed


def start_worker(home: Path, bootstrap: str) -> subprocess.Popen:
    env = dict(os.environ)
    env.update(
        FWJR_HOME=str(home),
        FWJR_KAFKA_BOOTSTRAP=bootstrap,
        FWJR_METRICS_PORT="0",
        FWJR_DASHBOARD_PORT=str(free_port()),
    )
    log = (home / "worker.log").open("ab")
    return subprocess.Popen([sys.executable, "-m", "fwjr", "worker"], env=env, stdout=log, stderr=subprocess.STDOUT)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def faust_floor(scheme: str, bootstrap: str, count: int, home: Path) -> dict:
    """Rate and CPU per message of a Faust agent that only takes batches (bench/faust_floor.py)."""
    result = home / f"faust-floor-{scheme}.json"
    subprocess.run(
        [sys.executable, str(REPO / "bench" / "faust_floor.py"), scheme, bootstrap, str(count), str(result),
         "worker", "-l", "warn"],
        cwd=home, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=1800, check=False,
    )
    return orjson.loads(result.read_bytes())


def drain(bootstrap: str, ends: dict[int, int], worker: int) -> tuple[float, dict[int, float]]:
    """FWJRs/s from the first committed progress until everything is committed, and the CPU
    microseconds per FWJR each worker process (the worker, its helper) spent meanwhile."""
    total = sum(ends.values())
    first_time = None
    first_done = 0
    cpu_at_first: dict[int, float] = {}
    while True:
        done = committed_offsets(bootstrap, ends)
        progress = sum(max(v, 0) for v in done.values())
        now = time.perf_counter()
        if first_time is None and progress > 0:
            first_time, first_done = now, progress
            cpu_at_first = {pid: cpu_seconds(pid) for pid in [worker, *helper_pids(worker)]}
        if progress >= total:
            counted = total - first_done
            cpu = {pid: 1e6 * (cpu_seconds(pid) - start) / max(counted, 1) for pid, start in cpu_at_first.items()}
            rate = counted / (now - first_time) if now > first_time else float("nan")
            return rate, cpu
        time.sleep(0.1)


def freshness(bootstrap: str, rate: float, seconds: float) -> list[float]:
    """Seconds from produce to the worker's committed offset passing the message, for FWJRs
    produced at a steady rate; the offsets are polled while producing, every 50 ms."""
    producer = make_producer(bootstrap)
    produced: list[tuple[int, int, float]] = []
    lock = threading.Lock()
    producing = threading.Event()
    producing.set()
    latencies: list[float] = []

    def delivered(err, msg) -> None:
        if err is None:
            with lock:
                produced.append((msg.partition(), msg.offset(), sent_at[msg.key()]))

    def watch() -> None:
        # One consumer for all polls: a new one per poll spends its first ~100 ms finding the coordinator.
        offsets = Consumer({"bootstrap.servers": bootstrap, "group.id": CONSUMER_GROUP, "enable.auto.commit": False})
        partitions = [TopicPartition(RAW_TOPIC, partition) for partition in range(Settings().raw_partitions)]
        pending: list[tuple[int, int, float]] = []
        while producing.is_set() or pending or produced:
            with lock:
                pending.extend(produced)
                produced.clear()
            if pending:
                done = {tp.partition: tp.offset for tp in offsets.committed(partitions, timeout=10)}
                now = time.monotonic()
                latencies.extend(now - at for partition, offset, at in pending if done.get(partition, -1) > offset)
                pending = [item for item in pending if done.get(item[0], -1) <= item[1]]
            time.sleep(0.05)
        offsets.close()

    sent_at: dict[bytes, float] = {}
    docs = generate_documents(int(rate * seconds), seed=202, start_ts=int(time.time()), minutes=seconds / 60, malformed_share=0.0, duplicate_share=0.0)
    watcher = threading.Thread(target=watch, name="freshness-watch")
    watcher.start()
    started = time.monotonic()
    for index, doc in enumerate(docs):
        key = message_key(doc) or uuid.uuid4().hex.encode()
        sent_at[key] = time.monotonic()
        producer.produce(RAW_TOPIC, value=orjson.dumps(doc), key=key, on_delivery=delivered)
        producer.poll(0)
        ahead = (index + 1) / rate - (time.monotonic() - started)
        if ahead > 0:
            time.sleep(ahead)
    producer.flush(60)
    producing.clear()
    watcher.join()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-stream-") as tmp:
        home = Path(tmp)
        broker = KafkaBroker(home / "kafka", ensure_kafka_jars(default_cache_dir()), detach=False)
        broker.start()
        try:
            ensure_topics(broker.bootstrap)
            loaded = preload(broker.bootstrap, args.count)
            baseline = decode_only(broker.bootstrap, loaded)
            floor = faust_floor("kafka", broker.bootstrap, loaded, home)
            batched_floor = faust_floor("kafka-batched", broker.bootstrap, loaded, home)
            ends = end_offsets(broker.bootstrap)
            (home / "worker-home").mkdir()
            worker = start_worker(home / "worker-home", broker.bootstrap)
            try:
                end_to_end, cpu = drain(broker.bootstrap, ends, worker.pid)
                latencies = freshness(broker.bootstrap, args.rate, args.seconds)
                rss = {pid: peak_rss_mb(pid) for pid in [worker.pid, *helper_pids(worker.pid)]}
            finally:
                worker.send_signal(signal.SIGTERM)
                worker.wait(60)
        finally:
            broker.stop()

    latencies.sort()
    p50 = statistics.median(latencies)
    p95 = latencies[int(len(latencies) * 0.95) - 1]
    print(f"messages pre-loaded            {loaded}")
    print(f"decode-only (baseline)         {baseline:10.0f} msg/s")
    print(f"Faust floor (take_events only) {floor['rate']:10.0f} msg/s   {floor['cpu_us']:.0f} CPU-us/msg")
    print(f"  same, batched drain          {batched_floor['rate']:10.0f} msg/s   {batched_floor['cpu_us']:.0f} CPU-us/msg"
          "   (streams/transport.py)")
    print(f"worker end-to-end              {end_to_end:10.0f} FWJR/s   ratio {end_to_end / baseline:.3f} of decode-only, "
          f"{end_to_end / floor['rate']:.3f} of the Faust floor")
    for pid, micros in cpu.items():
        role = "worker (store owner)" if pid == worker.pid else "helper process"
        print(f"  {role:28s} {micros:10.0f} CPU-us/FWJR   peak RSS {rss.get(pid, float('nan')):6.0f} MB")
    print(f"freshness at {args.rate:.0f}/s (n={len(latencies)})  p50 {p50:.2f} s   p95 {p95:.2f} s")

if __name__ == "__main__":
    main()
