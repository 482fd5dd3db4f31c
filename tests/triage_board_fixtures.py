"""A real embedded store holding the rehearsed triage incidents (bench/triage_scenario.json), for the
board's triage tests: the scenario's FWJRs through the stream's own steps (reader -> Aggregator at
minute grain -> the sink's row shapes, job rows included) and its outage windows, laid into the
hour before the seed time, so a test reads them in a window it computes from that time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fwjr.alerting.status import outage_windows, parse_status
from fwjr.bucket import iso
from fwjr.config import Settings
from fwjr.kafka.status import scenario_status_docs
from fwjr.model import Job
from fwjr.reader import decode_json, to_job
from fwjr.store import alerts
from fwjr.store.connection import Store, connect
from fwjr.store.migrate import migrate
from fwjr.synth.feed import burst_workflows, generate_documents
from tests.browser_fixtures import seed

SCENARIO = Path(__file__).resolve().parent.parent / "bench" / "triage_scenario.json"
SEED = 3
JOBS = 8000
MINUTES = 60


@dataclass(frozen=True)
class TriageStore:
    settings: Settings
    store: Store
    start: int  # the first FWJR's time; the incidents run for MINUTES from here
    incidents: dict[str, str]  # expected verdict -> the workflow it was laid into
    expected: dict[str, dict]  # workflow -> {"verdict", "remedy"}
    jobs: list[Job]  # what was seeded

    @property
    def window(self) -> dict[str, str]:
        """URL parameters of a window holding every seeded job."""
        return {"tf": "custom", "from": iso(self.start - 60), "to": iso(self.start + (MINUTES + 1) * 60)}

    @property
    def range(self) -> tuple[int, int]:
        return self.start - 60, self.start + (MINUTES + 1) * 60


def load_scenario(store: Store, start: int) -> tuple[dict, list[Job]]:
    """The scenario's FWJRs, job rows and outage windows from `start`; answers the scenario and the jobs."""
    scenario = json.loads(SCENARIO.read_text())
    jobs = []
    for index, doc in enumerate(generate_documents(JOBS, SEED, start_ts=start, minutes=MINUTES, scenario=scenario)):
        source = f"triage#{index}"
        job = to_job(source, doc if isinstance(doc, dict) else decode_json(doc, source))
        if isinstance(job, Job):
            jobs.append(job)
    seed(store, jobs, batch="triage-seed")
    events = [parse_status(doc, "test") for doc in scenario_status_docs(scenario, start)]
    by_service: dict[str, list] = {}
    for event in events:
        by_service.setdefault(event.service, []).append(event)
    rows = [[o.service, o.start, o.end or 0, o.state, o.message, o.source, 1]
            for service_events in by_service.values() for o in outage_windows(sorted(service_events, key=lambda e: e.ts))]
    alerts.insert_outages(store, rows)
    return scenario, jobs


def open_triage_store(home: Path, now: int, **settings: object) -> TriageStore:
    opened = Settings(home=home, dashboard_port=0, **settings)
    store = connect(opened)
    migrate(store)
    start = now - (MINUTES + 5) * 60
    scenario, jobs = load_scenario(store, start)
    workflows = burst_workflows(scenario, SEED, start)
    bursts = scenario["bursts"]
    return TriageStore(opened, store, start, {b["expect"]["verdict"]: w for b, w in zip(bursts, workflows)},
                       {w: b["expect"] for b, w in zip(bursts, workflows)}, jobs)


@pytest.fixture(scope="module")
def triage_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TriageStore]:
    """The incidents' store for one test module (one process holds one embedded store at a time)."""
    seeded = open_triage_store(tmp_path_factory.mktemp("triage-board") / "home", int(time.time()))
    yield seeded
    seeded.store.close()
