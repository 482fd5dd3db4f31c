"""The parts of a step: empty steps, the document's file arrays, inputs, outputs, performance.

Steps refer to files by index into the document's LFN and PFN arrays, as WMArchive stores
them; `Files` keeps those arrays while a job is built.
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timezone

from fwjr.synth.catalogue import GLOBAL_REDIRECTOR, TIERS, Task
from fwjr.synth.draws import guid, pick, randint


def empty_performance() -> dict:
    """The four performance groups, empty, as the agent writes them for steps without metrics."""
    return {"multicore": {}, "storage": {}, "cpu": {}, "memory": {}}


def empty_step(name: str, site: str | dict | None, start: int | None, stop: int | None, status: int) -> dict:
    """A step in the archive layout with no files, errors or metrics yet."""
    return {
        "name": name,
        "status": status,
        "site": site,
        "start": start,
        "stop": stop,
        "errors": [],
        "input": [],
        "output": [],
        "performance": empty_performance(),
    }


def log_archive_lfn(rng: random.Random, task: Task, when: int) -> str:
    """The LFN of the job's `...-logArchive.tar.gz`, under the day it was written."""
    day = datetime.fromtimestamp(when, tz=timezone.utc)
    job = randint(rng, 1, 400000)
    return (
        f"/store/unmerged/logs/prod/{day.year}/{day.month}/{day.day}/{task.workflow.name}/"
        f"{task.path.rsplit('/', 1)[-1]}/{job // 1000:04d}/{randint(rng, 0, 2)}/{guid(rng).lower()}-{job}-0-logArchive.tar.gz"
    )


class Files:
    """The document's LFN/PFN arrays; steps refer to files by index, as WMArchive stores them."""

    __slots__ = ("lfns", "pfns", "pfn_of", "fallback", "skipped")

    def __init__(self) -> None:
        self.lfns: list[str] = []
        self.pfns: list[str] = []
        self.pfn_of: dict[int, int] = {}
        self.fallback: list[int] = []
        self.skipped: list[int] = []

    def lfn(self, lfn: str, pfn: str | None) -> int:
        """Add a file; its LFN index."""
        self.lfns.append(lfn)
        index = len(self.lfns) - 1
        if pfn is not None:
            self.pfns.append(pfn)
            self.pfn_of[index] = len(self.pfns) - 1
        return index

    def pfn_index(self, lfn_index: int) -> int:
        """The PFN index of a file's LFN index (0 for a file without a PFN)."""
        return self.pfn_of.get(lfn_index, 0)

    def input_indexes(self) -> list[int]:
        """The files an output was made from: all but log archives, at most 200."""
        return [i for i, name in enumerate(self.lfns) if not name.startswith("/store/unmerged/logs")][:200]


def inputs(rng: random.Random, task: Task, files: Files, storage: tuple[str, str, str]) -> list[dict]:
    """The first cmsRun step's input files: primary files, and premixed pile-up for some MC."""
    wf = task.workflow
    if task.jobtype == "Production":
        return []
    if task.jobtype == "Merge":
        count = min(int(rng.paretovariate(1.5)) + 1, 60)
    elif task.jobtype == "Harvesting":
        count = randint(rng, 1, 8)
    else:
        count = pick(rng, (1, 1, 1, 2, 3))
    run = randint(rng, 380000, 399999)
    tier = task.input_tier or "RAW"
    out = []
    for _ in range(count):
        file_guid = guid(rng)
        if wf.kind == "data":
            lfn = f"/store/data/{wf.era}/{wf.primary}/{tier}/v1/000/{run // 1000:03d}/{run % 1000:03d}/00000/{file_guid}.root"
        else:
            lfn = f"/store/mc/{wf.campaign}/{wf.primary}/{tier}/{wf.processing_string}-v{wf.version}/{pick(rng, ('2550000', '40000', '00000'))}/{file_guid}.root"
        fallback = rng.random() < 0.03
        pfn = (GLOBAL_REDIRECTOR if fallback else f"root://{storage[0]}/{storage[1]}") + lfn
        lfn_index = files.lfn(lfn, pfn)
        if fallback:
            files.fallback.append(lfn_index)
        lumi0 = randint(rng, 1, 2000)
        lumis = list(range(lumi0, lumi0 + randint(rng, 1, 60 if wf.kind == "data" else 8)))
        out.append(
            {
                "catalog": "",
                "events": randint(rng, 100, 50000),
                "guid": file_guid,
                "input_source_class": "PoolSource",
                "input_type": "primaryFiles",
                "lfn": lfn_index,
                "module_label": "source",
                "pfn": files.pfn_index(lfn_index),
                "runs": [{"runNumber": run if wf.kind == "data" else 1, "lumis": lumis}],
            }
        )
    if task.jobtype == "Processing" and wf.kind == "mc" and rng.random() < 0.5:
        for _ in range(randint(rng, 2, 24)):  # premixed pile-up files: the tail of large documents
            file_guid = guid(rng)
            lfn = f"/store/mc/Neutrino_E-10_gun/PREMIX/{wf.campaign}_{wf.processing_string}-v1/{randint(rng, 10000, 99999)}/{file_guid}.root"
            index = files.lfn(lfn, GLOBAL_REDIRECTOR + lfn)
            out.append(
                {
                    "catalog": "",
                    "events": 0,
                    "guid": file_guid,
                    "input_source_class": "EmbeddedRootSource",
                    "input_type": "mixingFiles",
                    "lfn": index,
                    "module_label": "mixData",
                    "pfn": files.pfn_index(index),
                    "runs": [],
                }
            )
    return out

def outputs(rng: random.Random, task: Task, files: Files, storage: tuple[str, str, str], events: int, site: str) -> list[dict]:
    """The last cmsRun step's output files, one per output module of the task."""
    wf = task.workflow
    parents = files.input_indexes()
    out = []
    modules = task.outputs or ("Merged",)
    for module in modules:
        tier = TIERS.get(module, task.input_tier or "AOD")
        if module == "SKIMStreamoutput":
            tier = "RAW-RECO"
        merged = task.jobtype == "Merge"
        area = ("data" if wf.kind == "data" else "mc") if merged else "unmerged"
        file_guid = guid(rng)
        block = (
            "00000" if not merged else f"{randint(rng, 0, 9) * 10000 + 2530000 * (wf.kind == 'mc'):05d}"
        )
        lfn = f"/store/{area}/{wf.era}/{wf.primary}/{tier}/{wf.processing_string}-v{wf.version}/{block}/{file_guid}.root"
        index = files.lfn(lfn, f"root://{storage[0]}/{storage[1]}{lfn}")
        dataset = f"/{wf.primary}/{wf.era}-{wf.processing_string}-v{wf.version}/{tier}"
        runs = [
            {
                "runNumber": randint(rng, 380000, 399999) if wf.kind == "data" else 1,
                "lumis": sorted(rng.sample(range(1, 3000), randint(rng, 1, 12))),
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
                "guid": file_guid,
                "inputDataset": dataset.rsplit("/", 1)[0] + f"/{task.input_tier or 'GEN'}",
                "inputLFNs": list(parents),
                "inputPFNs": [files.pfn_index(i) for i in parents],
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


def performance(rng: random.Random, jt: dict, cores: int, seconds: float, events: int, code: int | None) -> dict:
    """A cmsRun step's metrics around its jobtype's means; memory over the limit for RSS kills."""
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
