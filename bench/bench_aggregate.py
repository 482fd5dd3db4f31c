"""How close the offline read-merge-aggregate path runs to a bare JSON decode.

Writes N FWJRs as JSON lines, then times, each in a fresh process over the same file:
  orjson     `orjson.loads` of every line: the baseline, nothing can be faster than it
  msgspec    `msgspec.json.decode` of every line (untyped), for comparison
  aggregate  `fwjr.reader.read_jobs` + `fwjr.aggregate.Aggregator`: what `fwjr aggregate` does
and prints docs per CPU-second (CPU time, so other load on the machine does not skew the
ratio) and the ratio aggregate / orjson (target >= 0.25; below 0.1 is a defect),
plus the aggregate run's peak RSS, which must stay bounded by the aggregate rows and the
identity set (under 1 GB at --count 1000000). Separate processes keep each peak RSS and
each timing free of the others' garbage.

    .venv/bin/python bench/bench_aggregate.py [--count 100000] [--precision hour] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import orjson

TARGET_RATIO = 0.25
DEFECT_RATIO = 0.1
RSS_LIMIT_MB = 1024
# Generated documents are cloned beyond this many (fresh wmaid, shifted ts): the
# generator makes ~5,000 documents/s, too slow to make a million for every run.
GENERATED_POOL = 50_000
# The shared reference data sits beside the clone (as in CI).
REFERENCE_SAMPLES = Path(__file__).resolve().parent.parent.parent / "shared" / "reference" / "wmarchive" / "fwjr_samples"
MODES = ("orjson", "msgspec", "aggregate")


def _generated(count: int, seed: int) -> Iterator[dict | bytes]:
    from fwjr.synth import generate_documents

    return generate_documents(count, seed)


def _reference_pool() -> list[dict | bytes]:
    return [orjson.loads(path.read_bytes()) for path in sorted(REFERENCE_SAMPLES.glob("*Fwjr.json"))]


def _pool(count: int, seed: int) -> tuple[list[dict | bytes], str]:
    size = min(count, GENERATED_POOL)
    try:
        return list(_generated(size, seed)), "fwjr.synth"
    except ImportError:
        return _reference_pool(), "replicated reference samples"


def _clone(doc: dict | bytes, round_: int, index: int) -> dict | bytes:
    """A copy that is a different FWJR: its own wmaid and a later ts (undecodable bytes stay as they are)."""
    if round_ == 0 or type(doc) is not dict:
        return doc
    copy = dict(doc)
    wmaid = copy.get("wmaid")
    copy["wmaid"] = f"{wmaid or 'bench'}-{round_}-{index}"
    meta = copy.get("meta_data")
    if type(meta) is dict and type(meta.get("ts")) in (int, float):
        copy["meta_data"] = dict(meta, ts=meta["ts"] + 3607 * round_)
    return copy


def write_input(path: Path, count: int, seed: int) -> str:
    """N documents as JSON lines; returns where they came from."""
    pool, origin = _pool(count, seed)
    with path.open("wb") as out:
        for number in range(count):
            round_, index = divmod(number, len(pool))
            doc = _clone(pool[index], round_, index)
            line = doc if type(doc) is bytes else orjson.dumps(doc)
            out.write(line.replace(b"\n", b" ") + b"\n")
    return origin


# --- one measurement, run in a child process -----------------------------------------


def _lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                yield line


def measure_orjson(path: Path) -> dict:
    docs = failed = 0
    loads = orjson.loads
    for line in _lines(path):
        docs += 1
        try:
            loads(line)
        except orjson.JSONDecodeError:
            failed += 1
    return {"docs": docs, "undecodable": failed}


def measure_msgspec(path: Path) -> dict:
    import msgspec

    decode = msgspec.json.Decoder().decode
    docs = failed = 0
    for line in _lines(path):
        docs += 1
        try:
            decode(line)
        except msgspec.DecodeError:
            failed += 1
    return {"docs": docs, "undecodable": failed}


def measure_aggregate(path: Path, precision: str) -> dict:
    from fwjr.aggregate import Aggregator
    from fwjr.model import Rejection
    from fwjr.reader import read_jobs

    aggregator = Aggregator(precision)
    docs = rejected = 0
    for item in read_jobs([path]):
        docs += 1
        if type(item) is Rejection:
            rejected += 1
        else:
            aggregator.add(item)
    return {
        "docs": docs,
        "jobs": aggregator.jobs,
        "duplicates": aggregator.duplicates,
        "rejected": rejected,
        "rows": len(aggregator.rows),
        "error_rows": len(aggregator.errors),
    }


def _peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not getrusage's ru_maxrss: Linux carries
    ru_maxrss across exec, so a child would report its parent's (the generator's) peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_measurement(mode: str, path: Path, precision: str) -> dict:
    rss_before = _peak_rss_mb()
    start, cpu_start = time.perf_counter(), time.process_time()
    if mode == "orjson":
        result = measure_orjson(path)
    elif mode == "msgspec":
        result = measure_msgspec(path)
    else:
        result = measure_aggregate(path, precision)
    cpu_seconds = time.process_time() - cpu_start
    result.update(
        mode=mode,
        seconds=time.perf_counter() - start,
        cpu_seconds=cpu_seconds,
        docs_per_s=result["docs"] / cpu_seconds if cpu_seconds else 0.0,
        rss_start_mb=rss_before,
        peak_rss_mb=_peak_rss_mb(),
    )
    return result


def _in_child(mode: str, path: Path, precision: str) -> dict:
    command = [sys.executable, __file__, "--measure", mode, "--input", str(path), "--precision", precision]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"measurement {mode!r} failed (exit {done.returncode}):\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- profile -----------------------------------------------------------------------


def profile(path: Path, precision: str, lines: int) -> str:
    """cProfile of the aggregate path over the first `lines` documents, hottest functions first."""
    from fwjr.aggregate import Aggregator
    from fwjr.model import Rejection
    from fwjr.reader import decode_json, to_job

    sample = [line for _, line in zip(range(lines), _lines(path))]
    aggregator = Aggregator(precision)
    profiler = cProfile.Profile()
    profiler.enable()
    for number, line in enumerate(sample):
        item = to_job(str(number), decode_json(line, str(number)))
        if type(item) is not Rejection:
            aggregator.add(item)
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(20)
    return text.getvalue()


# --- report ------------------------------------------------------------------------


def _verdict(ratio: float) -> str:
    if ratio >= TARGET_RATIO:
        return f"OK (target >= {TARGET_RATIO})"
    if ratio < DEFECT_RATIO:
        return f"DEFECT (below {DEFECT_RATIO})"
    return f"below target {TARGET_RATIO}"


def report(results: dict[str, dict], count: int, origin: str, size_mb: float) -> None:
    base = results["orjson"]["docs_per_s"]
    agg = results["aggregate"]
    print(f"input: {count:,} documents ({origin}), {size_mb:,.0f} MB of JSON lines, {size_mb * 1e6 / count:,.0f} B/doc")
    for mode in MODES:
        r = results[mode]
        print(f"  {mode:<10} {r['docs_per_s']:>12,.0f} docs/s  {r['cpu_seconds']:8.2f} s CPU  {r['seconds']:8.2f} s wall"
              f"  ratio {r['docs_per_s'] / base:5.3f}"
              f"  peak RSS {r['peak_rss_mb']:7.1f} MB")
    ratio = agg["docs_per_s"] / base
    print(f"RATIO aggregate/orjson = {ratio:.3f}: {_verdict(ratio)}")
    print(f"aggregate: {agg['jobs']:,} jobs, {agg['duplicates']:,} duplicates, {agg['rejected']:,} rejected, "
          f"{agg['rows']:,} rows, {agg['error_rows']:,} error rows")
    grown = agg["peak_rss_mb"] - agg["rss_start_mb"]
    state = "OK" if agg["peak_rss_mb"] < RSS_LIMIT_MB else f"OVER {RSS_LIMIT_MB} MB"
    print(f"aggregate peak RSS {agg['peak_rss_mb']:.1f} MB ({grown:+.1f} MB over the interpreter and imports): {state}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000, help="documents to generate")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--precision", default="hour")
    parser.add_argument("--out", type=Path, help="folder for the JSON lines file, kept and reused by later runs (default: a temporary one, removed)")
    parser.add_argument("--profile", type=int, nargs="?", const=20_000, default=0, metavar="LINES",
                        help="also profile the aggregate path over the first LINES documents")
    parser.add_argument("--measure", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.measure:
        print(json.dumps(run_measurement(args.measure, args.input, args.precision)))
        return

    folder = args.out or Path(tempfile.mkdtemp(prefix="fwjr-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"fwjr-{args.count}-{args.seed}.jsonl"
    try:
        if args.out is not None and path.exists():
            origin = f"reused {path}"
        else:
            started = time.perf_counter()
            origin = write_input(path, args.count, args.seed)
            print(f"wrote {path} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        results = {mode: _in_child(mode, path, args.precision) for mode in MODES}
        report(results, args.count, origin, path.stat().st_size / 1e6)
        if args.profile:
            print(profile(path, args.precision, args.profile))
    finally:
        if args.out is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
