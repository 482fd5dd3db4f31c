"""Benchmark: `fwjr replay` against the single-process `fwjr aggregate` on the same archive.

Both run as the operator runs them, each in its own process, timed from launch to exit:
  baseline  `fwjr aggregate ROOT --precision minute`           (fastavro + merge + Aggregator, one core)
  replay    `fwjr replay ROOT --from D --to D` into an empty store   (Spark start-up, read, fold,
            GROUP BY, the atomic replace; the replay's own summary splits out the Spark start-up)
The baseline runs before and after the replay and the faster of the two is kept, because the
machine is shared and a busy moment would flatter the ratio.

    python -m bench.bench_replay [--count 100000] [--days 1] [--master local[2]] [--keep DIR]

Prints FWJRs/s for both and their ratio (replay / baseline; above 1 means Spark is faster).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fwjr.bucket import iso
from fwjr.synth import generate_documents, write_archive

START_TS = 1_767_225_600  # 2026-01-01T00:00:00Z
FWJR = [sys.executable, "-m", "fwjr"]


def timed(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Wall seconds of one command and its stderr; a failure stops the bench with its output."""
    began = time.perf_counter()
    done = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seconds = time.perf_counter() - began
    stderr = done.stderr.decode(errors="replace")
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}:\n{stderr[-3000:]}")
    return seconds, stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000, help="generated FWJRs")
    parser.add_argument("--days", type=float, default=1.0, help="event time they span")
    parser.add_argument("--master", default=None, help="Spark master (default local[2])")
    parser.add_argument("--keep", type=Path, default=None, help="archive folder to reuse/keep")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-replay-"))
    root = args.keep or work / "archive"
    if not root.exists():
        began = time.perf_counter()
        summary = write_archive(generate_documents(args.count, 5, start_ts=START_TS, minutes=args.days * 1440), root, "avro")
        print(f"generated {summary['documents']} FWJRs in {summary['files']} files "
              f"({summary['bytes'] / 1e6:.0f} MB) in {time.perf_counter() - began:.0f} s")
    env = dict(os.environ, FWJR_HOME=str(work / "home"))
    env.pop("FWJR_CLICKHOUSE_URL", None)
    end_ts = START_TS + int(args.days * 86400) + 86400
    try:
        first, _ = timed(FWJR + ["aggregate", str(root), "--precision", "minute"], env)
        replay_command = FWJR + ["replay", str(root), "--from", iso(START_TS), "--to", iso(end_ts)]
        if args.master:
            replay_command += ["--master", args.master]
        replay_seconds, log = timed(replay_command, env)
        second, _ = timed(FWJR + ["aggregate", str(root), "--precision", "minute"], env)
    finally:
        shutil.rmtree(work / "home", ignore_errors=True)
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    documents = int(re.search(r"FWJRs: (\d+) read", log).group(1))
    spark_start = float(re.search(r"\(([\d.]+) s starting Spark\)", log).group(1))
    baseline = min(first, second)
    print(f"load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    print(f"fwjr aggregate (one process): {baseline:6.1f} s  {documents / baseline:8,.0f} FWJRs/s  "
          f"(runs: {first:.1f} s, {second:.1f} s)")
    print(f"fwjr replay (Spark, incl. start-up {spark_start:.1f} s and the store write): "
          f"{replay_seconds:6.1f} s  {documents / replay_seconds:8,.0f} FWJRs/s")
    print(f"fwjr replay without Spark start-up: {documents / (replay_seconds - spark_start):8,.0f} FWJRs/s")
    print(f"ratio replay / aggregate: {baseline / replay_seconds:.2f}x")


if __name__ == "__main__":
    main()
