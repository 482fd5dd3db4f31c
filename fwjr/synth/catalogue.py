"""The workflow catalogue: workflows, their tasks in WMCore's layout, and the sites' storage.

Built once per seed from its own `Random("fwjr-catalog-<seed>")`, so the stream's draws do
not move the catalogue. Names follow ReqMgr2 and the 2025-2026 campaigns; each workflow has
a `trouble` factor (mean 1) that scales its failure rate and its retries, because failures
concentrate in a few workflows.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

from fwjr.synth.draws import Choice, pick, randint
from fwjr.synth.model import load_model

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
TROUBLE_SIGMA = 0.6  # log-normal spread of the workflows' trouble factor (mean 1)
SKIMS = ("SkimLogError", "SkimZMu", "SkimJetHT", "SkimEXOMONOPOLE")


@dataclass
class Workflow:
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
    trouble: float = 1.0  # failure-rate and retry multiplier, drawn after the catalogue is built
    acdc: bool = False  # a recovery (ACDC) workflow: it exists because jobs of another failed


@dataclass
class Task:
    path: str
    jobtype: str
    workflow: Workflow
    outputs: tuple[str, ...] = ()
    cores: int = 1
    cmsrun_steps: int = 1
    input_tier: str = ""
    events_per_job: int = 0


def _workflow_time(rng: random.Random, start_ts: int) -> str:
    """ReqMgr2 names carry the request's creation time, some days before the jobs finish."""
    created = datetime.fromtimestamp(start_ts - randint(rng, 3600, 30 * 86400), tz=timezone.utc)
    return created.strftime("%y%m%d_%H%M%S") + f"_{randint(rng, 0, 9999):04d}"


def _make_workflow(rng: random.Random, rank: int, start_ts: int, hosts: list[str]) -> Workflow:
    kind = "mc" if rng.random() < 0.7 else "data"
    release = pick(rng, CMSSW_RELEASES)
    host_pick = tuple(rng.sample(hosts, k=pick(rng, (1, 1, 2))))
    if kind == "mc":
        campaign = pick(rng, MC_CAMPAIGNS)
        group = pick(rng, PHYSICS_GROUPS)
        prep_id = f"{group}-{campaign}wmLHEGS-{randint(rng, 1, 9999):05d}"
        requestor = "cmsunified_ACDC0_task" if rng.random() < 0.12 else "pdmvserv_task"
        name = f"{requestor}_{prep_id}__v1_T_{_workflow_time(rng, start_ts)}"
        primary = pick(rng, MC_PRIMARY)
        global_tag = f"{release[6:8]}{release[9]}X_mcRun3_2025_realistic_v{randint(rng, 2, 40)}"
        return Workflow(
            name,
            kind,
            campaign,
            campaign,
            prep_id,
            primary,
            global_tag,
            randint(rng, 1, 3),
            release,
            global_tag,
            1.0 / (rank + 1) ** 0.8,
            host_pick,
        )
    era = pick(rng, DATA_ERAS)
    primary = pick(rng, DATA_PRIMARY)
    reco = pick(rng, ("PromptReco", "PromptNanoAODv15", "ReReco", "22Sep2025"))
    prep_id = f"ReReco-{era}-{primary}-{reco}-{randint(rng, 1, 9999):05d}"
    name = f"pdmvserv_{era}_{primary}_{reco}_{_workflow_time(rng, start_ts)}"
    return Workflow(
        name,
        kind,
        f"{era}-{reco}",
        era,
        prep_id,
        primary,
        reco,
        randint(rng, 1, 2),
        release,
        f"150X_dataRun3_Prompt_v{randint(rng, 1, 9)}",
        1.0 / (rank + 1) ** 0.8,
        host_pick,
    )


def _output_tasks(parent: str, task_name: str, outputs: Iterable[str], wf: Workflow) -> list[Task]:
    """Each output module gets a merge, an unmerged cleanup and a merge log-collect task (WMCore layout)."""
    tasks = []
    for out in outputs:
        merge = f"{parent}/{task_name}Merge{out}"
        tasks.append(Task(merge, "Merge", wf, outputs=("Merged",), input_tier=TIERS[out]))
        tasks.append(Task(f"{parent}/{task_name}CleanupUnmerged{out}", "Cleanup", wf))
        tasks.append(Task(f"{merge}/{task_name}{out}MergeLogCollect", "LogCollect", wf))
        if out in ("DQMoutput", "DQMIOoutput"):
            tasks.append(
                Task(
                    f"{merge}/{task_name}Merge{out}EndOfRunDQMHarvestMerged",
                    "Harvesting",
                    wf,
                    input_tier="DQMIO",
                )
            )
        if out == "RECOoutput":
            tasks.append(
                Task(
                    f"{merge}/{(SKIMS[len(wf.name) % len(SKIMS)])}",
                    "Skim",
                    wf,
                    outputs=("SKIMStreamoutput",),
                    input_tier="RECO",
                )
            )
    return tasks


def _workflow_tasks(rng: random.Random, wf: Workflow) -> list[Task]:
    tasks: list[Task] = []
    if wf.kind == "mc":
        chain = pick(rng, MC_CHAINS)
        parent = f"/{wf.name}"
        stepchain = len(chain) > 1 and rng.random() < 0.75  # most modern MC is StepChain
        if stepchain:  # one task runs the whole chain as cmsRun1..cmsRunN in one job
            name = f"{wf.prep_id}_0"
            outs = chain[-1][2]
            tasks.append(
                Task(
                    f"{parent}/{name}",
                    "Production",
                    wf,
                    outs,
                    cores=pick(rng, (4, 8, 8)),
                    cmsrun_steps=len(chain),
                    events_per_job=pick(rng, (500, 1000, 2000)),
                )
            )
            tasks += _output_tasks(f"{parent}/{name}", name, outs, wf)
            tasks.append(Task(f"{parent}/{name}/LogCollect", "LogCollect", wf))
            return tasks
        for suffix, jobtype, outs in chain:
            name = f"{wf.prep_id.split('-')[0]}-{wf.campaign}{suffix}-{wf.prep_id[-5:]}_0"
            path = f"{parent}/{name}"
            cores = 1 if suffix == "wmLHEGEN" else pick(rng, (4, 8))
            tasks.append(
                Task(
                    path,
                    jobtype,
                    wf,
                    outs,
                    cores=cores,
                    input_tier="" if jobtype == "Production" else "GEN-SIM",
                    events_per_job=pick(rng, (200, 500, 1000, 2000)),
                )
            )
            tasks += _output_tasks(path, name, outs, wf)
            parent = f"{path}/{name}Merge{outs[0]}"
        tasks.append(Task(f"/{wf.name}/LogCollect", "LogCollect", wf))
        return tasks
    outs = pick(rng, DATA_OUTPUT_SETS)
    path = f"/{wf.name}/DataProcessing"
    tasks.append(
        Task(
            path,
            "Processing",
            wf,
            outs,
            cores=pick(rng, (4, 8, 8)),
            input_tier="RAW",
            events_per_job=pick(rng, (5000, 10000, 20000)),
        )
    )
    tasks += _output_tasks(path, "DataProcessing", outs, wf)
    tasks.append(Task(f"{path}/LogCollect", "LogCollect", wf))
    return tasks


class Catalog:
    """Workflows and their tasks, grouped by jobtype for a weighted pick."""

    def __init__(self, seed: int, start_ts: int, workflows: int = 170) -> None:
        rng = random.Random(f"fwjr-catalog-{seed}")
        hosts = list(load_model()["hosts"])
        self.workflows = [_make_workflow(rng, rank, start_ts, hosts) for rank in range(workflows)]
        pools: dict[str, list[tuple[Task, float]]] = {}
        for wf in self.workflows:
            for task in _workflow_tasks(rng, wf):
                pools.setdefault(task.jobtype, []).append((task, wf.weight * rng.uniform(0.3, 1.0)))
        for wf in self.workflows:  # drawn last, so the workflows and tasks above keep their draws
            wf.trouble = rng.lognormvariate(-TROUBLE_SIGMA**2 / 2, TROUBLE_SIGMA)
            wf.acdc = "_ACDC" in wf.name
        self.tasks = [task for pool in pools.values() for task, _ in pool]
        self.by_jobtype = {jobtype: Choice(pool) for jobtype, pool in pools.items()}

    def busiest(self, jobtype_jobs: dict[str, float]) -> list[Workflow]:
        """The workflows by their expected share of the jobs, busiest first (ties by name).

        A job picks a jobtype by `jobtype_jobs` (the model's jobs per jobtype), then a task of it
        by weight; a workflow's share is the sum over its tasks of both chances.
        """
        present = {j: w for j, w in jobtype_jobs.items() if j in self.by_jobtype and w > 0}
        total = sum(present.values())
        share: dict[str, float] = {}
        for jobtype, weight in present.items():
            pool = self.by_jobtype[jobtype]
            previous = 0.0
            for task, cumulative in zip(pool.items, pool.cum):
                name = task.workflow.name
                share[name] = share.get(name, 0.0) + weight / total * (cumulative - previous) / pool.total
                previous = cumulative
        return sorted(self.workflows, key=lambda wf: (-share.get(wf.name, 0.0), wf.name))


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


def site_storage(site: str) -> tuple[str, str, str]:
    """(xrootd door, storage prefix, domain) of a site; a site not listed gets names made from its own."""
    if site in SITE_STORAGE:
        return SITE_STORAGE[site]
    parts = site.split("_")
    domain = f"{parts[2].lower()}.{parts[1].lower()}" if len(parts) > 2 else "grid.local"
    return (f"xrootd.{domain}", "/store-root", domain)


