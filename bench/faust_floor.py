"""The floor the stream framework sets: a Faust agent that takes batches from fwjr.raw and does nothing else.

Run by bench_stream.py beside the real worker, over the same pre-loaded messages, with the
worker's batch size and broker settings, so the worker's rate can be read against what
Faust's per-event machinery (aiokafka fetch, conductor, stream, acks) allows on its own.

Usage: python bench/faust_floor.py SCHEME BOOTSTRAP COUNT RESULT_FILE worker -l warn
SCHEME is the Faust transport: `kafka` (Faust's own aiokafka consumer) or `kafka-batched`
(streams/transport.py, the worker's).
Writes {"rate": messages/s, "cpu_us": CPU microseconds per message} to RESULT_FILE after COUNT messages.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from pathlib import Path

import faust

from fwjr import topics
from fwjr.config import Settings
from streams.app import consumer_settings

SCHEME, BOOTSTRAP, COUNT, RESULT = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
sys.argv = [sys.argv[0], *sys.argv[5:]]
SETTINGS = Settings()

app = faust.App(
    f"bench-floor-{uuid.uuid4().hex}",
    **{**consumer_settings(SETTINGS), "broker": f"{SCHEME}://{BOOTSTRAP}"},
    web_enabled=False,
    consumer_auto_offset_reset="earliest",
    topic_partitions=SETTINGS.raw_partitions,
    stream_wait_empty=True,
    datadir=str(RESULT.parent / "faust-floor-data"),
)
raw = app.topic(topics.RAW, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")


@app.agent(raw)
async def take(stream: faust.StreamT) -> None:
    """Count batches; time from the first batch, so start-up and the first fetch are left out."""
    seen = first = 0
    started = cpu_started = 0.0
    async for events in stream.take_events(SETTINGS.batch_size, within=SETTINGS.flush_interval):
        if not seen:
            started, cpu_started, first = time.perf_counter(), time.process_time(), len(events)
        seen += len(events)
        if seen >= COUNT:
            measured = seen - first
            RESULT.write_text(json.dumps({
                "rate": measured / max(time.perf_counter() - started, 1e-9),
                "cpu_us": 1e6 * (time.process_time() - cpu_started) / max(measured, 1),
            }))
            os._exit(0)


if __name__ == "__main__":
    app.main()
