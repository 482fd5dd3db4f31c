"""How often triage gives the right verdict for rehearsed incidents, against the procedures table alone.

Over several seeds, the scenario bench/triage_scenario.json (four workflow-scoped incidents,
one per verdict: retry during an EOS outage, site, debug, resources) is generated, merged and
aggregated by the same code as the stream (reader -> Aggregator at minute grain), written to a
real embedded store with the scenario's outage windows, and triaged (fwjr.triage.report).

Printed per seed and overall:
- triage: the share of incident workflows whose verdict is right (and whose remedy is right);
- baseline, computed in the same run on the same workflows: the verdict the exit code's normal
  procedure alone gives (fwjr/data/procedures.json: ACDC -> retry, more memory -> resources,
  a software issue or "report immediately" -> debug, site support -> site, no procedure -> watch),
  for the workflow's top exit code;
- for both, how many workflows without an incident get a debug or resources verdict (wrong by
  construction: nothing was laid into them).

Usage: .venv/bin/python bench/bench_triage.py [--seeds 5] [--jobs 8000] [--minutes 60]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fwjr.aggregate import Aggregator, error_dicts, row_dicts  # noqa: E402
from fwjr.alerting.status import outage_windows, parse_status  # noqa: E402
from fwjr.config import Settings  # noqa: E402
from fwjr.exit_codes import procedure  # noqa: E402
from fwjr.kafka.status import scenario_status_docs  # noqa: E402
from fwjr.model import Job  # noqa: E402
from fwjr.reader import decode_json, to_job  # noqa: E402
from fwjr.store import (
    alerts,  # noqa: E402
    schema,  # noqa: E402
)
from fwjr.store.connection import Store, connect  # noqa: E402
from fwjr.store.migrate import migrate  # noqa: E402
from fwjr.synth.feed import burst_workflows, generate_documents  # noqa: E402
from fwjr.synth.model import DEFAULT_START_TS  # noqa: E402
from fwjr.triage.report import triage  # noqa: E402
from streams.sink import example_columns  # noqa: E402
from tests.fixtures import store_helpers  # noqa: E402

SCENARIO = ROOT / "bench" / "triage_scenario.json"
DAY = 86400


def baseline_verdict(code: int | None) -> str:
    """The verdict an operator reading only the procedures table would give for this exit code."""
    found = procedure(code) if code is not None else None
    if found is None:
        return "watch"
    normal = found.normal.lower()
    if "memory" in normal:
        return "resources"
    if "software issue" in normal or "report immediately (strong failure)" in normal:
        return "debug"
    if "site" in normal:
        return "site"
    if "acdc" in normal:
        return "retry"
    return "watch"


def load(store: Store, scenario: dict, seed: int, start: int, jobs: int, minutes: float) -> None:
    """The scenario's FWJRs and outage windows into the store, as the worker would write them."""
    aggregator = Aggregator("minute")
    counted: list[Job] = []
    for index, doc in enumerate(generate_documents(jobs, seed, start_ts=start, minutes=minutes, scenario=scenario)):
        source = f"bench#{index}"
        job = to_job(source, doc if isinstance(doc, dict) else decode_json(doc, source))
        if isinstance(job, Job) and aggregator.add(job):
            counted.append(job)
    store_helpers.insert_aggregates(store, row_dicts(aggregator.rows), f"bench-{seed}")
    store_helpers.insert_errors(store, error_dicts(aggregator.errors), f"bench-{seed}")
    store.insert_columns("error_examples", schema.EXAMPLE_COLUMNS, example_columns(counted))
    events = [parse_status(doc, "bench") for doc in scenario_status_docs(scenario, start)]
    by_service: dict[str, list] = {}
    for event in events:
        by_service.setdefault(event.service, []).append(event)
    rows = [[o.service, o.start, o.end or 0, o.state, o.message, o.source, 1]
            for service_events in by_service.values() for o in outage_windows(sorted(service_events, key=lambda e: e.ts))]
    alerts.insert_outages(store, rows)


def run_seed(store: Store, settings: Settings, scenario: dict, seed: int, jobs: int, minutes: float) -> dict:
    start = DEFAULT_START_TS + seed * DAY  # each seed on a day of its own: one store, no clean-up between seeds
    end = start + int(minutes * 60)
    load(store, scenario, seed, start, jobs, minutes)
    began = time.perf_counter()
    decisions = {d.workflow: d for d in triage(store, start, end, settings=settings, now=end + 600)}
    seconds = time.perf_counter() - began
    incidents = burst_workflows(scenario, seed, start)
    result = {"seed": seed, "incidents": [], "triage_seconds": seconds, "failing_workflows": len(decisions)}
    for burst, workflow in zip(scenario["bursts"], incidents):
        expect = burst["expect"]
        made = decisions.get(workflow)
        verdict = made.verdict if made else "none"
        top = made.top_exit_codes[0]["exit_code"] if made and made.top_exit_codes else None
        result["incidents"].append({
            "expected": expect["verdict"], "verdict": verdict, "remedy": made.remedy if made else None,
            "right": verdict == expect["verdict"], "remedy_right": bool(made) and made.remedy == expect["remedy"],
            "baseline": baseline_verdict(top), "baseline_right": baseline_verdict(top) == expect["verdict"],
            "reason": made.reason if made else "not failing",
        })
    others = [d for name, d in decisions.items() if name not in set(incidents)]
    result["others"] = len(others)
    result["others_wrong"] = sum(d.verdict in ("debug", "resources") for d in others)
    result["others_wrong_baseline"] = sum(
        baseline_verdict(d.top_exit_codes[0]["exit_code"] if d.top_exit_codes else None) in ("debug", "resources") for d in others
    )
    result["others_verdicts"] = {v: sum(d.verdict == v for d in others) for v in ("retry", "site", "resources", "debug", "watch")}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=8000)
    parser.add_argument("--minutes", type=float, default=60.0)
    args = parser.parse_args()
    scenario = json.loads(SCENARIO.read_text())
    with tempfile.TemporaryDirectory(prefix="bench-triage-") as home:
        settings = Settings(home=Path(home))
        store = connect(path=Path(home) / "store")
        migrate(store, {"minute_days": settings.minute_days, "hour_days": settings.hour_days, "day_days": settings.day_days,
                        "jobs_days": settings.jobs_days, "batches_days": 30})
        results = [run_seed(store, settings, scenario, seed, args.jobs, args.minutes) for seed in range(1, args.seeds + 1)]
        store.close()
    for r in results:
        print(f"seed {r['seed']}: {r['failing_workflows']} failing workflows, triage {r['triage_seconds'] * 1000:.0f} ms")
        for i in r["incidents"]:
            print(f"  expected {i['expected']:<9} triage {i['verdict']:<9} ({i['remedy']}) baseline {i['baseline']:<9} {i['reason']}")
        print(f"  without incident: {r['others_verdicts']}; debug/resources: triage {r['others_wrong']}, baseline {r['others_wrong_baseline']}")
    incidents = [i for r in results for i in r["incidents"]]
    right = sum(i["right"] for i in incidents)
    remedy = sum(i["remedy_right"] for i in incidents)
    base = sum(i["baseline_right"] for i in incidents)
    others = sum(r["others"] for r in results)
    print(f"incident workflows: {len(incidents)} over {len(results)} seeds ({args.jobs} jobs, {args.minutes:g} min each)")
    print(f"right verdict: triage {right}/{len(incidents)} = {right / len(incidents):.0%} (remedy right {remedy / len(incidents):.0%}); "
          f"baseline (procedure of the top exit code) {base}/{len(incidents)} = {base / len(incidents):.0%}; "
          f"triage/baseline = {right / base if base else float('inf'):.2f}x")
    print(f"workflows without an incident given debug/resources: triage {sum(r['others_wrong'] for r in results)}/{others}, "
          f"baseline {sum(r['others_wrong_baseline'] for r in results)}/{others}")


if __name__ == "__main__":
    main()
