"""Realistic WMArchive FWJR documents, deterministic for a seed, and the archive layout.

Every test, benchmark and demo needs FWJRs and the real archive cannot leave CERN, so
this module makes documents shaped like the real ones: the site, agent-host and
jobtype shares and failure rates of one real day of WMArchive aggregates
(data/generator_model.json, see docs/generator.md), the step layout and field set of
the WMArchive samples, exit codes from the real dictionary, and the real-world
damage a consumer has to survive (drifted, malformed and duplicated documents).

Everything random comes from one `random.Random(seed)`: the same arguments give the
same documents, byte for byte, on any machine.
"""

from __future__ import annotations

import json
import math
import random
from bisect import bisect
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from itertools import accumulate
from pathlib import Path

import fastavro
import orjson

from fwjr.avro_codec import ARCHIVE_SCHEMA, prepare_for_avro

MODEL_PATH = Path(__file__).parent / "data" / "generator_model.json"
DEFAULT_START_TS = 1795132800  # 2026-11-20T00:00:00Z: fixed, so seeds alone decide the output
DUPLICATE_WINDOW = 1000  # duplicates repeat one of the last N documents, as a re-sent batch would
MAX_OPEN_AVRO_FILES = 64

Document = dict | bytes


# --------------------------------------------------------------------------- model


@lru_cache(maxsize=1)
def load_model() -> dict:
    """The shares and rates derived from the real 2016-06-28 aggregates."""
    return json.loads(MODEL_PATH.read_text(encoding="utf-8"))


def _randint(rng: random.Random, low: int, high: int) -> int:
    """randint from one random() call: several times cheaper than random.randint."""
    return low + int(rng.random() * (high - low + 1))


def _pick(rng: random.Random, items):
    return items[int(rng.random() * len(items))]


class _Choice:
    """A weighted choice with precomputed cumulative weights (bisect, no per-call sums)."""

    __slots__ = ("items", "cum", "total")

    def __init__(self, weighted: Iterable[tuple[object, float]]) -> None:
        pairs = [(item, weight) for item, weight in weighted if weight > 0]
        self.items = [item for item, _ in pairs]
        self.cum = list(accumulate(weight for _, weight in pairs))
        self.total = self.cum[-1]

    def pick(self, rng: random.Random):
        return self.items[bisect(self.cum, rng.random() * self.total)]


@dataclass(frozen=True)
class Burst:
    """A failure burst at one site: the alert engineer's scenario hook."""

    site: str
    start_minute: float
    minutes: float
    failure_rate: float
    exit_code: int


def load_scenario(path: Path | str) -> dict:
    """A scenario file (JSON: {"bursts": [{site, start_minute, minutes, failure_rate, exit_code}]})."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        scenario = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"scenario file {path}: not valid JSON ({exc})") from exc
    _parse_bursts(scenario, str(path))
    return scenario


def _parse_bursts(scenario: dict | None, source: str = "scenario") -> list[Burst]:
    if not scenario:
        return []
    if not isinstance(scenario, dict):
        raise ValueError(f"{source}: a scenario must be an object, got {scenario!r}")
    sites = load_model()["sites"]
    bursts = []
    for index, raw in enumerate(scenario.get("bursts") or []):
        where = f"{source}: bursts[{index}]"
        missing = {"site", "start_minute", "minutes", "failure_rate", "exit_code"} - set(raw)
        if missing:
            raise ValueError(f"{where} lacks {sorted(missing)}: {raw!r}")
        if raw["site"] not in sites:
            raise ValueError(
                f"{where}: unknown site {raw['site']!r} (use a CMS site name such as T2_CH_CERN)"
            )
        try:
            burst = Burst(
                site=raw["site"],
                start_minute=float(raw["start_minute"]),
                minutes=float(raw["minutes"]),
                failure_rate=float(raw["failure_rate"]),
                exit_code=int(raw["exit_code"]),
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}: {exc} in {raw!r}") from exc
        if not 0.0 <= burst.failure_rate <= 1.0:
            raise ValueError(f"{where}: failure_rate must be within 0..1, got {burst.failure_rate}")
        bursts.append(burst)
    return bursts


# --------------------------------------------------------------------------- catalog

MC_CAMPAIGNS = (
    "Run3Summer24",
    "Run3Winter25",
    "Run3Summer25",
    "RunIII2024Summer24",
    "Run3Winter26",
    "RunIISummer20UL18",
)
DATA_ERAS = ("Run2025C", "Run2025D", "Run2025E", "Run2025F", "Run2025G", "Run2026B", "Run2026C")
PHYSICS_GROUPS = (
    "HIG",
    "EXO",
    "SUS",
    "TOP",
    "SMP",
    "BPH",
    "B2G",
    "TSG",
    "BTV",
    "MUO",
    "EGM",
    "JME",
    "PPD",
    "GEN",
)
MC_PRIMARY = (
    "TTtoLNu2Q_TuneCP5_13p6TeV_powheg-pythia8",
    "DYto2L-2Jets_MLL-50_TuneCP5_13p6TeV_amcatnloFXFX-pythia8",
    "WtoLNu-4Jets_TuneCP5_13p6TeV_madgraphMLM-pythia8",
    "QCD_PT-120to170_TuneCP5_13p6TeV_pythia8",
    "GluGluHToGG_M-125_TuneCP5_13p6TeV_powheg-pythia8",
    "ZprimeToTT_M-3000_W-30_TuneCP5_13p6TeV_madgraph-pythia8",
    "MinBias_TuneCP5_13p6TeV-pythia8",
    "BuToKMuMu_SoftQCD_TuneCP5_13p6TeV_pythia8-evtgen",
    "VBFHToTauTau_M125_TuneCP5_13p6TeV_powheg-pythia8",
    "SMS-T1tttt_mGluino-2000_mLSP-100_TuneCP5_13p6TeV-madgraphMLM-pythia8",
)
DATA_PRIMARY = (
    "JetMET0",
    "JetMET1",
    "Muon0",
    "Muon1",
    "EGamma0",
    "EGamma1",
    "Tau",
    "BTagMu",
    "ZeroBias",
    "DisplacedJet",
    "ParkingDoubleMuonLowMass0",
)
MC_CHAINS = (
    # (first task suffix, its jobtype, its outputs); each next task reads the merged output before it
    (
        ("wmLHEGS", "Production", ("RAWSIMoutput",)),
        ("DRPremix", "Processing", ("PREMIXRAWoutput",)),
        ("MiniAODv6", "Processing", ("MINIAODSIMoutput",)),
        ("NanoAODv15", "Processing", ("NANOAODSIMoutput",)),
    ),
    (
        ("GS", "Production", ("RAWSIMoutput",)),
        ("DIGIPremix", "Processing", ("PREMIXRAWoutput",)),
        ("RECO", "Processing", ("AODSIMoutput", "DQMoutput")),
    ),
    (("wmLHEGEN", "Production", ("LHEoutput", "RAWSIMoutput")),),
)
DATA_OUTPUT_SETS = (
    ("AODoutput", "MINIAODoutput", "DQMIOoutput"),
    ("MINIAODoutput", "NANOAODoutput"),
    ("RECOoutput", "AODoutput", "MINIAODoutput", "NANOAODoutput", "DQMIOoutput"),
    ("NANOAODoutput",),
)
TIERS = {
    "RAWSIMoutput": "GEN-SIM",
    "LHEoutput": "LHE",
    "PREMIXRAWoutput": "GEN-SIM-RAW",
    "AODSIMoutput": "AODSIM",
    "MINIAODSIMoutput": "MINIAODSIM",
    "NANOAODSIMoutput": "NANOAODSIM",
    "DQMoutput": "DQMIO",
    "AODoutput": "AOD",
    "MINIAODoutput": "MINIAOD",
    "NANOAODoutput": "NANOAOD",
    "DQMIOoutput": "DQMIO",
    "RECOoutput": "RECO",
}
CMSSW_RELEASES = (
    "CMSSW_15_0_14",
    "CMSSW_15_0_17",
    "CMSSW_14_0_21",
    "CMSSW_15_1_3",
    "CMSSW_14_2_5_patch2",
    "CMSSW_10_6_47",
)
AGENT_VERSIONS = ("2.4.2", "2.4.3", "2.4.3.1", "2.4.4", "2.4.5")
SKIMS = ("SkimLogError", "SkimZMu", "SkimJetHT", "SkimEXOMONOPOLE")


@dataclass
class _Workflow:
    name: str
    kind: str  # "mc" | "data"
    campaign: str
    era: str
    prep_id: str
    primary: str
    processing_string: str
    version: int
    release: str
    global_tag: str
    weight: float
    hosts: tuple[str, ...]


@dataclass
class _Task:
    path: str
    jobtype: str
    workflow: _Workflow
    outputs: tuple[str, ...] = ()
    cores: int = 1
    cmsrun_steps: int = 1
    input_tier: str = ""
    events_per_job: int = 0
    jobs: list[int] = field(default_factory=lambda: [0])


def _guid(rng: random.Random) -> str:
    text = f"{rng.getrandbits(128):032X}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _workflow_time(rng: random.Random, start_ts: int) -> str:
    """ReqMgr2 names carry the request's creation time, some days before the jobs finish."""
    created = datetime.fromtimestamp(start_ts - _randint(rng, 3600, 30 * 86400), tz=timezone.utc)
    return created.strftime("%y%m%d_%H%M%S") + f"_{_randint(rng, 0, 9999):04d}"


def _make_workflow(rng: random.Random, rank: int, start_ts: int, hosts: list[str]) -> _Workflow:
    kind = "mc" if rng.random() < 0.7 else "data"
    release = _pick(rng, CMSSW_RELEASES)
    host_pick = tuple(rng.sample(hosts, k=_pick(rng, (1, 1, 2))))
    if kind == "mc":
        campaign = _pick(rng, MC_CAMPAIGNS)
        group = _pick(rng, PHYSICS_GROUPS)
        prep_id = f"{group}-{campaign}wmLHEGS-{_randint(rng, 1, 9999):05d}"
        requestor = "cmsunified_ACDC0_task" if rng.random() < 0.12 else "pdmvserv_task"
        name = f"{requestor}_{prep_id}__v1_T_{_workflow_time(rng, start_ts)}"
        primary = _pick(rng, MC_PRIMARY)
        global_tag = f"{release[6:8]}{release[9]}X_mcRun3_2025_realistic_v{_randint(rng, 2, 40)}"
        return _Workflow(
            name,
            kind,
            campaign,
            campaign,
            prep_id,
            primary,
            global_tag,
            _randint(rng, 1, 3),
            release,
            global_tag,
            1.0 / (rank + 1) ** 0.8,
            host_pick,
        )
    era = _pick(rng, DATA_ERAS)
    primary = _pick(rng, DATA_PRIMARY)
    reco = _pick(rng, ("PromptReco", "PromptNanoAODv15", "ReReco", "22Sep2025"))
    prep_id = f"ReReco-{era}-{primary}-{reco}-{_randint(rng, 1, 9999):05d}"
    name = f"pdmvserv_{era}_{primary}_{reco}_{_workflow_time(rng, start_ts)}"
    return _Workflow(
        name,
        kind,
        f"{era}-{reco}",
        era,
        prep_id,
        primary,
        reco,
        _randint(rng, 1, 2),
        release,
        f"150X_dataRun3_Prompt_v{_randint(rng, 1, 9)}",
        1.0 / (rank + 1) ** 0.8,
        host_pick,
    )


def _output_tasks(parent: str, task_name: str, outputs: Iterable[str], wf: _Workflow) -> list[_Task]:
    """Each output module gets a merge, an unmerged cleanup and a merge log-collect task (WMCore layout)."""
    tasks = []
    for out in outputs:
        merge = f"{parent}/{task_name}Merge{out}"
        tasks.append(_Task(merge, "Merge", wf, outputs=("Merged",), input_tier=TIERS[out]))
        tasks.append(_Task(f"{parent}/{task_name}CleanupUnmerged{out}", "Cleanup", wf))
        tasks.append(_Task(f"{merge}/{task_name}{out}MergeLogCollect", "LogCollect", wf))
        if out in ("DQMoutput", "DQMIOoutput"):
            tasks.append(
                _Task(
                    f"{merge}/{task_name}Merge{out}EndOfRunDQMHarvestMerged",
                    "Harvesting",
                    wf,
                    input_tier="DQMIO",
                )
            )
        if out == "RECOoutput":
            tasks.append(
                _Task(
                    f"{merge}/{(SKIMS[len(wf.name) % len(SKIMS)])}",
                    "Skim",
                    wf,
                    outputs=("SKIMStreamoutput",),
                    input_tier="RECO",
                )
            )
    return tasks


def _workflow_tasks(rng: random.Random, wf: _Workflow) -> list[_Task]:
    tasks: list[_Task] = []
    if wf.kind == "mc":
        chain = _pick(rng, MC_CHAINS)
        parent = f"/{wf.name}"
        stepchain = len(chain) > 1 and rng.random() < 0.75  # most modern MC is StepChain
        if stepchain:  # one task runs the whole chain as cmsRun1..cmsRunN in one job
            name = f"{wf.prep_id}_0"
            outs = chain[-1][2]
            tasks.append(
                _Task(
                    f"{parent}/{name}",
                    "Production",
                    wf,
                    outs,
                    cores=_pick(rng, (4, 8, 8)),
                    cmsrun_steps=len(chain),
                    events_per_job=_pick(rng, (500, 1000, 2000)),
                )
            )
            tasks += _output_tasks(f"{parent}/{name}", name, outs, wf)
            tasks.append(_Task(f"{parent}/{name}/LogCollect", "LogCollect", wf))
            return tasks
        for suffix, jobtype, outs in chain:
            name = f"{wf.prep_id.split('-')[0]}-{wf.campaign}{suffix}-{wf.prep_id[-5:]}_0"
            path = f"{parent}/{name}"
            cores = 1 if suffix == "wmLHEGEN" else _pick(rng, (4, 8))
            tasks.append(
                _Task(
                    path,
                    jobtype,
                    wf,
                    outs,
                    cores=cores,
                    input_tier="" if jobtype == "Production" else "GEN-SIM",
                    events_per_job=_pick(rng, (200, 500, 1000, 2000)),
                )
            )
            tasks += _output_tasks(path, name, outs, wf)
            parent = f"{path}/{name}Merge{outs[0]}"
        tasks.append(_Task(f"/{wf.name}/LogCollect", "LogCollect", wf))
        return tasks
    outs = _pick(rng, DATA_OUTPUT_SETS)
    path = f"/{wf.name}/DataProcessing"
    tasks.append(
        _Task(
            path,
            "Processing",
            wf,
            outs,
            cores=_pick(rng, (4, 8, 8)),
            input_tier="RAW",
            events_per_job=_pick(rng, (5000, 10000, 20000)),
        )
    )
    tasks += _output_tasks(path, "DataProcessing", outs, wf)
    tasks.append(_Task(f"{path}/LogCollect", "LogCollect", wf))
    return tasks


class _Catalog:
    """Workflows and their tasks, grouped by jobtype for a weighted pick."""

    def __init__(self, seed: int, start_ts: int, workflows: int = 170) -> None:
        rng = random.Random(f"fwjr-catalog-{seed}")
        hosts = list(load_model()["hosts"])
        self.workflows = [_make_workflow(rng, rank, start_ts, hosts) for rank in range(workflows)]
        pools: dict[str, list[tuple[_Task, float]]] = {}
        for wf in self.workflows:
            for task in _workflow_tasks(rng, wf):
                pools.setdefault(task.jobtype, []).append((task, wf.weight * rng.uniform(0.3, 1.0)))
        self.tasks = [task for pool in pools.values() for task, _ in pool]
        self.by_jobtype = {jobtype: _Choice(pool) for jobtype, pool in pools.items()}


# --------------------------------------------------------------------------- documents

SITE_STORAGE = {
    "T1_US_FNAL_Disk": ("cmsdcadisk.fnal.gov", "/dcache/uscmsdisk", "fnal.gov"),
    "T2_CH_CERN": ("eoscms.cern.ch", "/eos/cms", "cern.ch"),
    "T2_DE_DESY": ("dcache-cms-xrootd.desy.de:1094", "/pnfs/desy.de/cms/tier2", "desy.de"),
    "T2_US_Caltech": ("xrootd-redir.ultralight.org", "", "ultralight.org"),
    "T2_US_Purdue": ("eos.cms.rcac.purdue.edu", "", "rcac.purdue.edu"),
    "T2_US_Wisconsin": ("cmsxrootd.hep.wisc.edu", "", "hep.wisc.edu"),
    "T1_FR_CCIN2P3": ("ccxrdcms.in2p3.fr:1094", "/pnfs/in2p3.fr/data/cms/data", "in2p3.fr"),
    "T1_UK_RAL": ("xrootd.echo.stfc.ac.uk", "", "gridpp.rl.ac.uk"),
    "T1_DE_KIT": ("cmsxrootd-kit.gridka.de:1094", "/pnfs/gridka.de/cms/disk-only", "gridka.de"),
    "T1_ES_PIC": ("xrootd-cmst1-door.pic.es:1096", "/pnfs/pic.es/data/cms/disk", "pic.es"),
}
GLOBAL_REDIRECTOR = "root://cms-xrd-global.cern.ch/"


def _site_storage(site: str) -> tuple[str, str, str]:
    if site in SITE_STORAGE:
        return SITE_STORAGE[site]
    parts = site.split("_")
    domain = f"{parts[2].lower()}.{parts[1].lower()}" if len(parts) > 2 else "grid.local"
    return (f"xrootd.{domain}", "/store-root", domain)


class _Builder:
    """Builds one job's document; holds the seeded stream and the precomputed choices."""

    def __init__(self, seed: int, start_ts: int, bursts: list[Burst]) -> None:
        model = load_model()
        self.rng = random.Random(seed)
        self.catalog = _Catalog(seed, start_ts)
        self.start_ts = start_ts
        self.bursts = bursts
        self.sites = _Choice((name, jobs) for name, (jobs, _) in model["sites"].items())
        self.site_rate = {name: rate for name, (_, rate) in model["sites"].items()}
        self.base_rate = model["sited_failure_rate"]
        self.min_rate = model["min_failure_rate"]
        present = [j for j in model["jobtypes"] if j in self.catalog.by_jobtype]
        self.jobtypes = _Choice((j, model["jobtypes"][j]["jobs"]) for j in present)
        self.jobtype_model = model["jobtypes"]
        self.host_agent = {h: AGENT_VERSIONS[i % len(AGENT_VERSIONS)] for i, h in enumerate(model["hosts"])}
        self.host_jobid = {h: 100000 + 150000 * i for i, h in enumerate(model["hosts"])}
        codes = model["exit_codes"]
        self.codes = {
            cls: _Choice((int(c), w) for c, w in table.items())
            for cls, table in codes.items()
            if cls not in ("about", "failing_step_share")
        }
        self.code_class = {
            int(c): cls
            for cls, table in codes.items()
            if cls not in ("about", "failing_step_share")
            for c in table
        }
        self.failing_step = _Choice(codes["failing_step_share"].items())
        self.code_text = model["exit_code_text"]

    # ---- job-level decisions

    def job(self, ts: int) -> dict:
        rng = self.rng
        jobtype = self.jobtypes.pick(rng)
        task: _Task = self.catalog.by_jobtype[jobtype].pick(rng)
        jt = self.jobtype_model[jobtype]
        host = task.workflow.hosts[0] if len(task.workflow.hosts) == 1 else _pick(rng, task.workflow.hosts)
        self.host_jobid[host] += 1
        retry = 0 if rng.random() < 0.9 else _randint(rng, 1, 3)
        doc_id = f"{self.host_jobid[host]}-{retry}"
        if rng.random() < jt["no_site_share"]:
            return self._unsited_failure(ts, task, host, doc_id, jt)
        site = self.sites.pick(rng)
        # P(fail) = jobtype rate x how much worse than average the site did that day
        rate = min(0.95, max(jt["failure_rate"], self.min_rate) * self.site_rate[site] / self.base_rate)
        failure = self._natural_failure(task) if rng.random() < rate else None
        forced = self._burst_code(site, ts)
        if forced is not None:
            failure = (self._forced_step_class(task, forced), forced)
        return self._sited_job(ts, task, host, doc_id, site, failure)

    def _burst_code(self, site: str, ts: int) -> int | None:
        for burst in self.bursts:
            begin = self.start_ts + burst.start_minute * 60
            in_window = burst.site == site and begin <= ts < begin + burst.minutes * 60
            if in_window and self.rng.random() < burst.failure_rate:
                return burst.exit_code
        return None

    def _meta(self, ts: int, task: _Task, host: str, doc_id: str, jobstate: str, wn_name: str) -> dict:
        return {
            "agent_ver": self.host_agent[host],
            "fwjr_id": doc_id,
            "host": host,
            "ts": ts,
            "jobstate": jobstate,
            "jobtype": task.jobtype,
            "wn_name": wn_name,
        }

    def _envelope(self, ts: int, task: _Task, meta: dict, steps: list, files: _Files, wall: float) -> dict:
        wf = task.workflow
        return {
            "wmaid": f"{self.rng.getrandbits(128):032x}",
            "wmats": ts + _randint(self.rng, 5, 300) + 0.5,
            "dtype": "fwjr",
            "task": task.path,
            "Campaign": wf.campaign,
            "PrepID": wf.prep_id,
            "meta_data": meta,
            "WMTiming": {"WMTotalWallClockTime": round(wall)},
            "LFNArray": files.lfns,
            "LFNArrayRef": ["fallbackFiles", "outputLFNs", "lfn", "skippedFiles", "inputLFNs"],
            "PFNArray": files.pfns,
            "PFNArrayRef": ["inputPFNs", "outputPFNs", "pfn"],
            "fallbackFiles": files.fallback,
            "skippedFiles": files.skipped,
            "steps": steps,
        }

    # ---- failures before a site was known (killed, never started, submit failures)

    def _unsited_failure(self, ts: int, task: _Task, host: str, doc_id: str, jt: dict) -> dict:
        rng = self.rng
        submit = rng.random() < jt["no_site_submitfailed_share"]
        code = self.codes["submit" if submit else "no_site"].pick(rng)
        name = "JobKilled" if 71300 <= code < 71310 else ("JobSubmit" if submit else "cmsRun1")
        step = _empty_step(name, None, None, None, 1)
        step["site"] = {}
        step["errors"] = [self._error(code, task, "", name)]
        meta = self._meta(ts, task, host, doc_id, "submitfailed" if submit else "jobfailed", "")
        return self._envelope(ts, task, meta, [step], _Files(), 0)

    # ---- jobs that ran at a site

    def _sited_job(
        self, ts: int, task: _Task, host: str, doc_id: str, site: str, failure: tuple[str, int] | None
    ) -> dict:
        rng = self.rng
        files = _Files()
        storage = _site_storage(site)
        end = ts - _randint(rng, 20, 900)
        wn = f"{_pick(rng, ('cmswn', 'wn', 'node', 'batch'))}{_randint(rng, 1, 4999):04d}.{storage[2]}"
        failing, code = failure if failure is not None else (None, None)
        jobtype = task.jobtype
        if jobtype == "LogCollect":
            steps, wall = self._single_step_job(task, site, end, "logCollect1", failing, code, files, storage)
        elif jobtype == "Cleanup":
            steps, wall = self._single_step_job(
                task, site, end, "cleanupUnmerged1", failing, code, files, storage
            )
        else:
            steps, wall = self._cmsrun_job(task, site, end, failing, code, files, storage, ts)
        meta = self._meta(ts, task, host, doc_id, "success" if failing is None else "jobfailed", wn)
        return self._envelope(ts, task, meta, steps, files, wall)

    def _natural_failure(self, task: _Task) -> tuple[str, int]:
        """The failing step class for this kind of job, and a code from that class's skew."""
        if task.jobtype == "LogCollect":
            cls = "logCollect"
        elif task.jobtype == "Cleanup":
            cls = "cleanup"
        elif task.jobtype == "Harvesting":
            cls = "upload" if self.rng.random() < 0.4 else "cmsRun"
        else:
            cls = self.failing_step.pick(self.rng)
        return cls, self.codes[cls].pick(self.rng)

    def _forced_step_class(self, task: _Task, code: int) -> str:
        """Where a scenario's code fails: its own step class when this job has that step, else cmsRun.

        Single-step jobs (LogCollect, Cleanup) fail in their only step whatever the class.
        """
        if task.jobtype == "LogCollect":
            return "logCollect"
        if task.jobtype == "Cleanup":
            return "cleanup"
        cls = self.code_class.get(code, "cmsRun")
        if cls == "upload" and task.jobtype != "Harvesting":
            return "stageOut"
        return cls if cls in ("cmsRun", "stageOut", "logArch", "upload") else "cmsRun"

    def _single_step_job(self, task, site, end, name, failing, code, files, storage):
        rng = self.rng
        duration = rng.uniform(5, 300) if name == "logCollect1" else rng.uniform(2, 60)
        step = _empty_step(name, site, int(end - duration), end, 0)
        if name == "logCollect1":
            wf = task.workflow
            day = datetime.fromtimestamp(end, tz=timezone.utc)
            tar = (
                f"/store/logs/prod/{day.year}/{day.month:02d}/WMAgent/{wf.name}/"
                f"{wf.name}-{task.path.rsplit('/', 1)[-1]}-{_randint(rng, 1, 99)}-logs.tar"
            )
            inputs = [
                files.lfn(_log_archive_lfn(rng, task, end - _randint(rng, 600, 86400)), None)
                for _ in range(_randint(rng, 2, 40))
            ]
            step["input"] = [{"runs": [], "lfn": index} for index in inputs]
            out = files.lfn(tar, None)
            step["output"] = [
                {
                    "runs": [],
                    "SEName": storage[0].split(":")[0],
                    "outputLFNs": [out],
                    "outputPFNs": [],
                    "location": "",
                    "inputLFNs": [],
                    "PNN": site,
                    "GUID": "",
                    "inputPFNs": [],
                    "StageOutCommand": "gfal2",
                }
            ]
        if failing is not None:
            step["status"] = code
            step["errors"] = [self._error(code, task, site, name)]
        return [step], duration + rng.uniform(30, 120)

    def _cmsrun_job(self, task, site, end, failing, code, files, storage, ts):
        rng = self.rng
        jt = self.jobtype_model[task.jobtype]
        mean = max(jt["job_seconds"], 60.0)
        wall = rng.lognormvariate(math.log(mean) - 0.3, 0.8)
        if failing == "cmsRun" and code == 50664:
            wall = rng.uniform(1.0, 1.1) * 172800
        stage_secs = rng.uniform(3, 120)
        log_secs = rng.uniform(1, 15)
        t0 = int(end - log_secs - stage_secs - wall)
        inputs = self._inputs(task, files, storage)
        steps = []
        n_cmsrun = task.cmsrun_steps
        fail_at = _randint(rng, 1, n_cmsrun) if failing == "cmsRun" else None
        step_wall = wall / n_cmsrun
        cursor = t0
        events = task.events_per_job or _randint(rng, 500, 20000)
        if task.jobtype == "Merge":
            events = _randint(rng, 2000, 200000)
        for index in range(1, n_cmsrun + 1):
            name = f"cmsRun{index}"
            if fail_at is not None and index > fail_at:
                break
            fraction = rng.uniform(0.02, 0.95) if fail_at == index and code != 50664 else 1.0
            seconds = step_wall * fraction
            step = _empty_step(name, site, int(cursor), int(cursor + seconds), 0)
            cursor += seconds
            if index == 1:
                step["input"] = inputs
            step["performance"] = self._performance(
                task,
                seconds,
                events if fraction == 1.0 else int(events * fraction),
                code if fail_at == index else None,
            )
            if fail_at == index:
                step["status"] = code
                step["errors"] = self._cmsrun_errors(code, task, site, name)
                if code in (85, 84, 8028, 73, 10040) and rng.random() < 0.6:
                    step["performance"] = _empty_performance()
                    step["stop"] = step["start"] + _randint(rng, 5, 120)
            elif index == n_cmsrun:
                step["output"] = self._outputs(task, files, storage, events, site, end)
            steps.append(step)
        if fail_at is None:
            stage = _empty_step(
                "stageOut1" if task.jobtype != "Harvesting" else "upload1",
                site,
                int(cursor),
                int(cursor + stage_secs),
                0,
            )
            if failing in ("stageOut", "upload"):
                stage["status"] = code
                stage["errors"] = [self._error(code, task, site, stage["name"])]
            steps.append(stage)
            cursor += stage_secs
        log = _empty_step("logArch1", site, int(end - log_secs), end, 0)
        log_index = files.lfn(_log_archive_lfn(rng, task, end), None)
        log["output"] = [
            {
                "runs": [],
                "inputPFNs": [],
                "adler32": f"{rng.getrandbits(32):08x}",
                "inputLFNs": [],
                "outputLFNs": [log_index],
                "outputPFNs": [],
                "module_label": "logArchive",
                "location": "",
                "cksum": str(rng.getrandbits(32)),
                "events": 0,
                "merged": False,
                "size": 0,
            }
        ]
        if failing == "logArch":
            log["status"] = code
            log["errors"] = [self._error(code, task, site, "logArch1")]
        steps.append(log)
        return steps, wall + stage_secs + log_secs + rng.uniform(60, 600)

    # ---- parts of a cmsRun step

    def _inputs(self, task: _Task, files: _Files, storage: tuple[str, str, str]) -> list[dict]:
        rng = self.rng
        wf = task.workflow
        if task.jobtype == "Production":
            return []
        if task.jobtype == "Merge":
            count = min(int(rng.paretovariate(1.5)) + 1, 60)
        elif task.jobtype == "Harvesting":
            count = _randint(rng, 1, 8)
        else:
            count = _pick(rng, (1, 1, 1, 2, 3))
        run = _randint(rng, 380000, 399999)
        tier = task.input_tier or "RAW"
        out = []
        for _ in range(count):
            guid = _guid(rng)
            if wf.kind == "data":
                lfn = f"/store/data/{wf.era}/{wf.primary}/{tier}/v1/000/{run // 1000:03d}/{run % 1000:03d}/00000/{guid}.root"
            else:
                lfn = f"/store/mc/{wf.campaign}/{wf.primary}/{tier}/{wf.processing_string}-v{wf.version}/{_pick(rng, ('2550000', '40000', '00000'))}/{guid}.root"
            fallback = rng.random() < 0.03
            pfn = (GLOBAL_REDIRECTOR if fallback else f"root://{storage[0]}/{storage[1]}") + lfn
            lfn_index = files.lfn(lfn, pfn)
            if fallback:
                files.fallback.append(lfn_index)
            lumi0 = _randint(rng, 1, 2000)
            lumis = list(range(lumi0, lumi0 + _randint(rng, 1, 60 if wf.kind == "data" else 8)))
            out.append(
                {
                    "catalog": "",
                    "events": _randint(rng, 100, 50000),
                    "guid": guid,
                    "input_source_class": "PoolSource",
                    "input_type": "primaryFiles",
                    "lfn": lfn_index,
                    "module_label": "source",
                    "pfn": files.pfn_index(lfn_index),
                    "runs": [{"runNumber": run if wf.kind == "data" else 1, "lumis": lumis}],
                }
            )
        if task.jobtype == "Processing" and wf.kind == "mc" and rng.random() < 0.5:
            for _ in range(_randint(rng, 2, 24)):  # premixed pile-up files: the tail of large documents
                guid = _guid(rng)
                lfn = f"/store/mc/Neutrino_E-10_gun/PREMIX/{wf.campaign}_{wf.processing_string}-v1/{_randint(rng, 10000, 99999)}/{guid}.root"
                index = files.lfn(lfn, GLOBAL_REDIRECTOR + lfn)
                out.append(
                    {
                        "catalog": "",
                        "events": 0,
                        "guid": guid,
                        "input_source_class": "EmbeddedRootSource",
                        "input_type": "mixingFiles",
                        "lfn": index,
                        "module_label": "mixData",
                        "pfn": files.pfn_index(index),
                        "runs": [],
                    }
                )
        return out

    def _outputs(self, task: _Task, files: _Files, storage, events: int, site: str, end: int) -> list[dict]:
        rng = self.rng
        wf = task.workflow
        inputs = files.input_indexes()
        out = []
        modules = task.outputs or ("Merged",)
        for module in modules:
            tier = TIERS.get(module, task.input_tier or "AOD")
            if module == "SKIMStreamoutput":
                tier = "RAW-RECO"
            merged = task.jobtype == "Merge"
            area = ("data" if wf.kind == "data" else "mc") if merged else "unmerged"
            guid = _guid(rng)
            block = (
                "00000" if not merged else f"{_randint(rng, 0, 9) * 10000 + 2530000 * (wf.kind == 'mc'):05d}"
            )
            lfn = f"/store/{area}/{wf.era}/{wf.primary}/{tier}/{wf.processing_string}-v{wf.version}/{block}/{guid}.root"
            index = files.lfn(lfn, f"root://{storage[0]}/{storage[1]}{lfn}")
            dataset = f"/{wf.primary}/{wf.era}-{wf.processing_string}-v{wf.version}/{tier}"
            runs = [
                {
                    "runNumber": _randint(rng, 380000, 399999) if wf.kind == "data" else 1,
                    "lumis": sorted(rng.sample(range(1, 3000), _randint(rng, 1, 12))),
                }
            ]
            out.append(
                {
                    "StageOutCommand": "gfal2",
                    "acquisitionEra": wf.era,
                    "adler32": f"{rng.getrandbits(32):08x}",
                    "applicationName": "cmsRun",
                    "applicationVersion": wf.release,
                    "async_dest": "",
                    "branch_hash": f"{rng.getrandbits(128):032x}",
                    "catalog": "",
                    "cksum": str(rng.getrandbits(32)),
                    "configURL": f"https://cmsweb.cern.ch/couchdb;;reqmgr_config_cache;;{rng.getrandbits(128):032x}",
                    "events": events,
                    "globalTag": wf.global_tag,
                    "guid": guid,
                    "inputDataset": dataset.rsplit("/", 1)[0] + f"/{task.input_tier or 'GEN'}",
                    "inputLFNs": list(inputs),
                    "inputPFNs": [files.pfn_index(i) for i in inputs],
                    "location": site,
                    "merged": merged,
                    "module_label": module,
                    "ouput_module_class": "PoolOutputModule",
                    "outputDataset": dataset,
                    "outputLFNs": [index],
                    "outputPFNs": [files.pfn_index(index)],
                    "prep_id": wf.prep_id,
                    "processingStr": wf.processing_string,
                    "processingVer": wf.version,
                    "runs": runs,
                    "size": int(events * rng.uniform(2e3, 4e5)),
                    "validStatus": "PRODUCTION",
                    "SEName": storage[0].split(":")[0],
                    "PNN": site,
                }
            )
        return out

    def _performance(self, task: _Task, seconds: float, events: int, code: int | None) -> dict:
        rng = self.rng
        jt = self.jobtype_model[task.jobtype]
        cores = task.cores
        mean_eff = min(jt["cpu_seconds"] / jt["job_seconds"], 0.9) if jt["job_seconds"] else 0.6
        eff = (
            rng.uniform(1.02, 1.8)
            if rng.random() < 0.007
            else min(max(rng.gauss(mean_eff, 0.12), 0.05), 0.99)
        )
        job_time = seconds * rng.uniform(0.95, 0.995)
        cpu = job_time * cores * eff
        events = max(events, 1)
        avg_time = job_time * cores / events
        read_mb = (
            rng.lognormvariate(math.log(max(jt["read_mb"], 5.0)) - 0.5, 1.0)
            * seconds
            / max(jt["job_seconds"], 60.0)
        )
        read_secs = job_time * rng.uniform(0.005, 0.08)
        read_kb = rng.uniform(20, 600)
        write_mb = rng.lognormvariate(math.log(max(jt["write_mb"], 1.0)) - 0.5, 1.0)
        rss = 400 + cores * rng.uniform(500, 1500)
        if code in (50660, 8031):
            rss = cores * 2000 * rng.uniform(1.02, 1.4)
        return {
            "cpu": {
                "TotalJobCPU": round(cpu, 3),
                "TotalJobTime": round(job_time, 3),
                "TotalLoopCPU": round(cpu * 0.97, 3),
                "TotalEventCPU": round(cpu * 0.96, 3),
                "TotalInitCPU": round(rng.uniform(5, 120), 3),
                "TotalInitTime": round(rng.uniform(10, 200), 3),
                "AvgEventCPU": round(cpu * 0.96 / events, 5),
                "AvgEventTime": round(avg_time, 5),
                "MaxEventCPU": round(avg_time * eff * rng.uniform(2, 12), 4),
                "MaxEventTime": round(avg_time * rng.uniform(2, 12), 4),
                "MinEventCPU": round(avg_time * eff * rng.uniform(0.02, 0.4), 5),
                "MinEventTime": round(avg_time * rng.uniform(0.02, 0.4), 5),
                "EventThroughput": round(events / job_time, 5),
                "NumberOfThreads": cores,
                "NumberOfStreams": cores if rng.random() < 0.9 else max(cores // 2, 1),
            },
            "memory": {
                "PeakValueRss": round(rss, 2),
                "PeakValueVsize": round(rss * rng.uniform(1.3, 2.5), 2),
            },
            "storage": {
                "readTotalMB": round(read_mb, 3),
                "readTotalSecs": round(read_secs, 3),
                "readMBSec": round(read_mb / read_secs, 5) if read_secs else 0.0,
                "readAveragekB": round(read_kb, 4),
                "readNumOps": float(int(read_mb * 1024 / read_kb) + 1),
                "readMaxMSec": round(rng.uniform(20, 5000), 3),
                "readPercentageOps": round(rng.uniform(1.0, 1.05), 6),
                "readCachePercentageOps": 0.0,
                "writeTotalMB": round(write_mb, 3),
                "writeTotalSecs": round(write_mb * rng.uniform(0.5, 30), 3),
            },
            "multicore": {},
        }

    # ---- errors

    def _cmsrun_errors(self, code: int, task: _Task, site: str, step: str) -> list[dict]:
        errors = [self._error(code, task, site, step)]
        if self.rng.random() < 0.4 and code < 50000:
            errors.append({"type": "CMSExeption", "exitCode": code, "details": self._stderr_tail(code, task)})
        return errors

    def _error(self, code: int, task: _Task, site: str, step: str) -> dict:
        rng = self.rng
        text = self.code_text.get(str(code), "Error return without specification.")
        wf = task.workflow
        job_dir = f"/srv/job/WMTaskSpace/{step}"
        if 8000 <= code < 9000 or code in (84, 85, 92):
            lfn = f"/store/data/{wf.era}/{wf.primary}/RAW/v1/000/{_randint(rng, 380, 399)}/{_randint(rng, 0, 999):03d}/00000/{_guid(rng)}.root"
            category = text.split(" ")[0].rstrip(".")
            details = (
                f"An exception of category '{category}' occurred while\n   [0] Constructing the EventProcessor\n"
                f"   [1] Constructing input source of type PoolSource\n   [2] Calling RootInputFileSequence::initTheFile()\n"
                f"   [3] Calling StorageFactory::open()\n   [4] Calling XrdFile::open()\nException Message:\n"
                f"Failed to open the file 'root://cms-xrd-global.cern.ch/{lfn}'\n   Additional Info:\n"
                f"      [a] Input file root://{_site_storage(site or 'T2_CH_CERN')[0]}/{lfn} could not be opened.\n"
                f"      [b] {text}\n"
            )
            return {"type": "Fatal Exception", "exitCode": code, "details": details}
        if code in (50660, 50661, 50664, 50665, 50662, 50669):
            limit = {
                50660: "maxRSS: 16000 MB",
                50661: "maxVSize: 40000 MB",
                50664: "maxWallTime: 172800 seconds",
            }.get(code, "limit")
            return {
                "type": "PerformanceError",
                "exitCode": code,
                "details": f"Job has exceeded {limit}\n{text}\nJob was killed by the watchdog of {job_dir}",
            }
        if 60300 <= code < 60500:
            return {
                "type": "StageOutFailure",
                "exitCode": code,
                "details": (
                    f"ErrorCode : {code}\nModuleName : WMCore.Storage.Backends.GFAL2Impl\nMethodName : doTransfer\n"
                    f"ErrorType : GeneralStageOutFailure\nErrorMessage : {text} Command exited non-zero, ExitCode:{_pick(rng, (1, 2, 110, 70))}\n"
                    f"Output: gfal-copy error: {_pick(rng, (5, 13, 110, 70))} (Connection timed out) - DESTINATION OVERWRITE\n"
                ),
            }
        if 71300 <= code < 71310:
            return {
                "type": "JobKilled",
                "exitCode": code,
                "details": f"{text}\n Job last known status was: {_pick(rng, ('Unknown', 'Running', 'Idle'))}",
            }
        if code == 99109:
            return {
                "type": "WMAgentStepExecutionError",
                "exitCode": code,
                "details": f'{text}\nTraceback (most recent call last):\n  File "WMCore/WMSpec/Steps/Executors/CMSSW.py", line {_randint(rng, 200, 600)}, in execute\n    raise WMExecutionFailure({code}, "StepExecutionError", msg)\n',
            }
        if code == 84:
            return {
                "type": "99997",
                "exitCode": code,
                "details": f"jobReport with no steps: {job_dir}/Report.0.pkl",
            }
        return {"type": _type_for_code(code), "exitCode": code, "details": f"{text} ({job_dir})"}

    def _stderr_tail(self, code: int, task: _Task) -> str:
        """The wrapper's second error: CMSSW's last stderr/stdout lines. Occasionally very long."""
        rng = self.rng
        lines = _randint(rng, 10, 10) if rng.random() < 0.97 else _randint(rng, 80, 220)
        body = "\n".join(
            f"%MSG-w {_pick(rng, ('XrdAdaptor', 'TFileAdaptor', 'MemoryCheck', 'FastTimerService'))}: "
            f" {_pick(rng, ('file_open', 'PostEndRun', 'PostModuleEvent'))} {_randint(rng, 1, 31):02d}-Nov-2026 "
            f"{_randint(rng, 0, 23):02d}:{_randint(rng, 0, 59):02d}:{_randint(rng, 0, 59):02d} CET Run: {_randint(rng, 380000, 399999)} "
            f"Event: {_randint(rng, 1, 10**9)} Data is served from {_pick(rng, ('cern.ch', 'fnal.gov', 'infn.it', 'desy.de'))} instead of original site"
            for _ in range(lines)
        )
        return (
            f"Exit {code}: CMSExeption Exception from cmsRun {task.path}\n Adding last ten lines of CMSSW stderr:\n{body}\n"
            f"\n Adding last ten lines of CMSSW stdout:\nBegin processing the {_randint(rng, 1, 5000)}th record.\n"
        )


def _type_for_code(code: int) -> str:
    """The error `type` WMAgent reports for a code family."""
    if code < 256:
        return "CMSExeption"
    if 10000 <= code < 11000 or 50000 <= code < 51000:
        return "WMAgentError"
    if 70000 <= code < 72000:
        return "WMAgentError"
    return "Fatal Exception"


def _empty_performance() -> dict:
    return {"multicore": {}, "storage": {}, "cpu": {}, "memory": {}}


def _empty_step(name: str, site, start, stop, status) -> dict:
    return {
        "name": name,
        "status": status,
        "site": site,
        "start": start,
        "stop": stop,
        "errors": [],
        "input": [],
        "output": [],
        "performance": _empty_performance(),
    }


def _log_archive_lfn(rng: random.Random, task: _Task, when: int) -> str:
    day = datetime.fromtimestamp(when, tz=timezone.utc)
    job = _randint(rng, 1, 400000)
    return (
        f"/store/unmerged/logs/prod/{day.year}/{day.month}/{day.day}/{task.workflow.name}/"
        f"{task.path.rsplit('/', 1)[-1]}/{job // 1000:04d}/{_randint(rng, 0, 2)}/{_guid(rng).lower()}-{job}-0-logArchive.tar.gz"
    )


class _Files:
    """The document's LFN/PFN arrays; steps refer to files by index, as WMArchive stores them."""

    __slots__ = ("lfns", "pfns", "pfn_of", "fallback", "skipped", "inputs")

    def __init__(self) -> None:
        self.lfns: list[str] = []
        self.pfns: list[str] = []
        self.pfn_of: dict[int, int] = {}
        self.fallback: list[int] = []
        self.skipped: list[int] = []
        self.inputs: list[int] = []

    def lfn(self, lfn: str, pfn: str | None) -> int:
        self.lfns.append(lfn)
        index = len(self.lfns) - 1
        if pfn is not None:
            self.pfns.append(pfn)
            self.pfn_of[index] = len(self.pfns) - 1
        return index

    def pfn_index(self, lfn_index: int) -> int:
        return self.pfn_of.get(lfn_index, 0)

    def input_indexes(self) -> list[int]:
        return [i for i, name in enumerate(self.lfns) if not name.startswith("/store/unmerged/logs")][:200]


# --------------------------------------------------------------------------- drift and damage
# Each drift function changes one document the way real agents and exports did.
# They mutate a freshly built document, never a shared one.

_BAD_METRIC_VALUES = (-1, -1.0, "nan", "inf", "-nan", "")


def _steps_of(doc: dict) -> list[dict]:
    return doc["steps"] if isinstance(doc["steps"], list) else list(doc["steps"].values())


def _drift_null_numbers(doc: dict, rng: random.Random) -> bool:
    step = _pick(rng, _steps_of(doc))
    step[_pick(rng, ("start", "stop"))] = None
    cpu = step.get("performance", {}).get("cpu")
    if cpu:
        cpu[_pick(rng, sorted(cpu))] = None
    return True


def _drift_site_dict(doc: dict, rng: random.Random) -> bool:
    for step in _steps_of(doc):
        step["site"] = {}
    return True


def _drift_status_failed(doc: dict, rng: random.Random) -> bool:
    failed = [s for s in _steps_of(doc) if s.get("errors")]
    for step in failed:
        step["status"] = "Failed"
    return bool(failed)


def _drift_exit_code_strings(doc: dict, rng: random.Random) -> bool:
    errors = [e for s in _steps_of(doc) for e in s.get("errors", ())]
    for error in errors:
        error["exitCode"] = str(error["exitCode"])
    return bool(errors)


def _drift_bad_metrics(doc: dict, rng: random.Random) -> bool:
    groups = [g for s in _steps_of(doc) for g in s.get("performance", {}).values() if g]
    for group in groups:
        for key in rng.sample(sorted(group), k=min(len(group), _randint(rng, 1, 4))):
            group[key] = _pick(rng, _BAD_METRIC_VALUES)
    return bool(groups)


def _drift_missing_performance(doc: dict, rng: random.Random) -> bool:
    for step in _steps_of(doc):
        if rng.random() < 0.5:
            step.pop("performance", None)
        else:
            step["performance"] = {key: value for key, value in step["performance"].items() if key != "cpu"}
    return True


def _drift_steps_as_dict(doc: dict, rng: random.Random) -> bool:
    """Older agents sent steps keyed by step name, without a `name` inside."""
    doc["steps"] = {step.pop("name"): step for step in doc["steps"]}
    return True


def _drift_mongo_export(doc: dict, rng: random.Random) -> bool:
    doc["_id"] = {"$oid": f"{rng.getrandbits(96):024x}"}
    meta = doc["meta_data"]
    meta["ts"] = {"$numberLong": str(meta["ts"])}
    for step in _steps_of(doc):
        for key in ("start", "stop"):
            if isinstance(step.get(key), int):
                step[key] = {"$numberLong": str(step[key])}
    return True


def _drift_no_wmaid(doc: dict, rng: random.Random) -> bool:
    del doc["wmaid"]
    return True


def _drift_ts_string(doc: dict, rng: random.Random) -> bool:
    meta = doc["meta_data"]
    meta["ts"] = str(meta["ts"])
    return True


DRIFTS = (
    (_drift_null_numbers, 3),
    (_drift_site_dict, 2),
    (_drift_status_failed, 2),
    (_drift_exit_code_strings, 2),
    (_drift_bad_metrics, 4),
    (_drift_missing_performance, 2),
    (_drift_steps_as_dict, 2),
    (_drift_mongo_export, 2),
    (_drift_no_wmaid, 2),
    (_drift_ts_string, 1),
)
_DRIFT_CHOICE = _Choice(DRIFTS)


def _apply_drift(doc: dict, rng: random.Random) -> None:
    """One or two kinds of drift; a kind that does not apply (no errors to stringify) is redrawn."""
    kinds = 2 if rng.random() < 0.2 else 1
    done: set = set()
    for _ in range(12):
        drift = _DRIFT_CHOICE.pick(rng)
        if drift in done or (drift is _drift_steps_as_dict and not isinstance(doc["steps"], list)):
            continue
        if drift(doc, rng):
            done.add(drift)
        if len(done) == kinds:
            return


def _malformed(doc: dict, rng: random.Random) -> Document:
    """Something a consumer must reject, built from a real-looking document."""
    kind = rng.randrange(5)
    if kind == 0:
        data = orjson.dumps(doc)
        return data[: _randint(rng, 1, len(data) - 1)]
    if kind == 1:
        return orjson.dumps([doc])
    if kind == 2:
        return {key: value for key, value in doc.items() if key not in ("steps", "meta_data")}
    if kind == 3:  # no time at all: neither meta_data.ts nor any step's start/stop to fall back on
        del doc["meta_data"]["ts"]
        for step in doc["steps"]:
            step["start"] = step["stop"] = None
        return doc
    doc["meta_data"]["ts"] = _pick(rng, ("yesterday", "", "2026-11-20T10:00:00Z", "None"))
    return doc


# --------------------------------------------------------------------------- the stream


def default_minutes(count: int) -> float:
    """The span that `count` jobs take at the real rate (456,823 jobs on 2016-06-28)."""
    return count / load_model()["jobs_per_minute"]


def generate_documents(
    count: int,
    seed: int,
    start_ts: int | None = None,
    minutes: float | None = None,
    drift_share: float = 0.05,
    malformed_share: float = 0.01,
    duplicate_share: float = 0.02,
    scenario: dict | None = None,
) -> Iterator[Document]:
    """`count` FWJRs in arrival order: dicts, and raw bytes for undecodable ones.

    Documents' `meta_data.ts` spread over `minutes` (default: the real job rate) from
    `start_ts` (default 2026-11-20T00:00Z), mostly in order with some late arrivals.
    Shares are probabilities per item: `malformed_share` must be rejected by consumers,
    `duplicate_share` repeats an earlier document exactly (same wmaid, fresh object),
    `drift_share` carries real-world format drift. `scenario` bursts force failures
    at a site in a time window (see docs/generator.md).
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    for name, share in (
        ("drift_share", drift_share),
        ("malformed_share", malformed_share),
        ("duplicate_share", duplicate_share),
    ):
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"{name} must be within 0..1, got {share}")
    start = DEFAULT_START_TS if start_ts is None else int(start_ts)
    span = (default_minutes(count) if minutes is None else float(minutes)) * 60.0
    builder = _Builder(seed, start, _parse_bursts(scenario))
    rng = builder.rng
    recent: list[bytes] = []
    for index in range(count):
        ts = start + int(span * index / count) if count else start
        if rng.random() < 0.05:  # late arrival: the report reached the archive some minutes late
            ts -= _randint(rng, 60, 1800)
        ts = min(max(ts, start), start + max(int(span) - 1, 0))
        draw = rng.random()
        if draw < duplicate_share and recent:
            yield orjson.loads(_pick(rng, recent))
            continue
        doc = builder.job(ts)
        if draw < duplicate_share + malformed_share:
            yield _malformed(doc, rng)
            continue
        if rng.random() < drift_share:
            _apply_drift(doc, rng)
        if duplicate_share and "wmaid" in doc:
            recent.append(orjson.dumps(doc))  # a snapshot: the consumer may change the dict it gets
            if len(recent) > DUPLICATE_WINDOW:
                recent.pop(0)
        yield doc


# --------------------------------------------------------------------------- the archive layout


def document_ts(doc: Document) -> int | None:
    """`meta_data.ts` as epoch seconds when the document has a usable one (also "123" and $numberLong)."""
    if not isinstance(doc, dict):
        return None
    meta = doc.get("meta_data")
    if not isinstance(meta, dict):
        return None
    value = meta.get("ts")
    if isinstance(value, dict):
        value = value.get("$numberLong")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _file_key(ts: int, files_per_day: int) -> tuple[str, str]:
    moment = datetime.fromtimestamp(ts, tz=timezone.utc)
    part = (moment.hour * 3600 + moment.minute * 60 + moment.second) * files_per_day // 86400
    return moment.strftime("%Y/%m/%d"), f"fwjr-{moment:%Y%m%d}-{part:03d}"


class _AvroFiles:
    """Open Avro writers per archive file; the least recently used are closed and later appended to."""

    def __init__(self, out_dir: Path, codec: str) -> None:
        self.out_dir = out_dir
        self.codec = codec
        self.open: OrderedDict[Path, tuple] = OrderedDict()
        self.paths: set[Path] = set()

    def write(self, folder: str, stem: str, doc: dict) -> None:
        path = self.out_dir / folder / f"{stem}.avro"
        entry = self.open.get(path)
        if entry is None:
            if len(self.open) >= MAX_OPEN_AVRO_FILES:
                _, (handle, writer) = self.open.popitem(last=False)
                writer.flush()
                handle.close()
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(path, "a+b" if path in self.paths else "wb")
            writer = fastavro.write.Writer(handle, ARCHIVE_SCHEMA, codec=self.codec)
            entry = self.open[path] = (handle, writer)
            self.paths.add(path)
        self.open.move_to_end(path)
        entry[1].write(prepare_for_avro(doc))

    def close(self) -> None:
        for handle, writer in self.open.values():
            writer.flush()
            handle.close()
        self.open.clear()


def write_archive(
    docs: Iterable[Document],
    out_dir: Path | str,
    fmt: str = "avro",
    files_per_day: int = 24,
    codec: str = "deflate",
) -> dict:
    """Write documents into the WMArchive layout OUT/YYYY/MM/DD/*.avro|jsonl, foldered by `meta_data.ts` (UTC).

    A day is split into `files_per_day` files by time of day. Malformed items (bytes, or
    dicts without a usable ts) cannot be foldered by time: they go into the file of the
    document before them, as a buffer would have passed them on, so that consumers of
    either format see (and reject) the same documents. Avro cannot hold raw bytes, so in
    Avro those are only counted (`skipped`).
    Returns {documents, files, bytes, malformed, duplicates, skipped}; `documents` counts
    the well-formed documents written, duplicates included.
    """
    if fmt not in ("avro", "jsonl"):
        raise ValueError(f"archive format must be 'avro' or 'jsonl', got {fmt!r}")
    if files_per_day < 1:
        raise ValueError(f"files_per_day must be >= 1, got {files_per_day}")
    out = Path(out_dir)
    summary = {"documents": 0, "files": 0, "bytes": 0, "malformed": 0, "duplicates": 0, "skipped": 0}
    seen: set[str] = set()
    avro = _AvroFiles(out, codec) if fmt == "avro" else None
    jsonl: dict[Path, object] = {}
    key = _file_key(DEFAULT_START_TS, files_per_day)
    try:
        for doc in docs:
            ts = document_ts(doc)
            if ts is None:
                summary["malformed"] += 1
            else:
                key = _file_key(ts, files_per_day)
                summary["documents"] += 1
                wmaid = doc.get("wmaid")
                if isinstance(wmaid, str):
                    summary["duplicates"] += wmaid in seen
                    seen.add(wmaid)
            if avro is None:
                raw = doc if isinstance(doc, bytes) else orjson.dumps(doc)
                _jsonl_handle(jsonl, out, key).write(raw.replace(b"\n", b" ") + b"\n")
            elif isinstance(doc, dict):
                avro.write(*key, doc)
            else:
                summary["skipped"] += 1
    finally:
        if avro is not None:
            avro.close()
        for handle in jsonl.values():
            handle.close()
    written = avro.paths if avro is not None else set(jsonl)
    summary["files"] = len(written)
    summary["bytes"] = sum(path.stat().st_size for path in written)
    return summary


def _jsonl_handle(handles: dict, out: Path, key: tuple[str, str]):
    path = out / key[0] / f"{key[1]}.jsonl"
    handle = handles.get(path)
    if handle is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = handles[path] = open(path, "wb")
    return handle
