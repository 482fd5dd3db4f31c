"""The agent's CouchDB form of a report: the envelope WMAgent keeps before the archive sees it.

`{_id, _rev, jobid, timestamp, jobstate, jobtype, retrycount, archivestatus, type: "fwjr",
fwjr: {task, steps: {name: step}, ...}}` as in `reference/wmagent_couchdb/`; the 2015 ones
(`reference/wmarchive/legacy_2015_2016/`) say `time_stamp` and `uid` or `id`, and have no
archivestatus. Made from the archive-form document of the same job, so both forms merge to
the same job: steps keyed by name, files named in place instead of by index into
LFNArray/PFNArray, outputs keyed by output module, metrics as the text CouchDB holds.
What only WMCore's archive conversion adds (wmaid, the agent host and version, the worker
node) is absent, as it is in CouchDB.
"""

from __future__ import annotations

import random

from fwjr.synth.draws import pick

_TEXT_GROUPS = ("cpu", "memory")  # the agent's metrics of these groups are strings ("TotalJobCPU": "0.438933")


def to_envelope(doc: dict, rng: random.Random, old_spelling: bool) -> dict:
    """The CouchDB envelope of an archive-form document; `old_spelling` gives the 2015 keys."""
    meta = doc["meta_data"]
    fwjr_id = meta["fwjr_id"]
    lfns = doc["LFNArray"]
    pfns = doc["PFNArray"]
    steps = {}
    for step in doc["steps"]:
        agent_step = {key: value for key, value in step.items() if key != "name"}
        agent_step["input"] = _inputs(step["input"], lfns, pfns)
        agent_step["output"] = _outputs(step["output"], lfns, pfns)
        agent_step["performance"] = _performance(step["performance"])
        steps[step["name"]] = agent_step
    wall = doc["WMTiming"]["WMTotalWallClockTime"]
    end = meta["ts"] - rng.uniform(5.0, 600.0)
    fwjr = {
        "task": doc["task"],
        "Campaign": doc["Campaign"],
        "PrepID": doc["PrepID"],
        "WMTiming": {"WMJobStart": end - wall, "WMJobEnd": end, "WMTotalWallClockTime": wall},
        "skippedFiles": [lfns[index] for index in doc["skippedFiles"]],
        "fallbackFiles": [lfns[index] for index in doc["fallbackFiles"]],
        "steps": steps,
    }
    revision = 1 if rng.random() < 0.8 else 2
    envelope: dict = {
        pick(rng, ("uid", "id")) if old_spelling else "_id": fwjr_id,
        "_rev": f"{revision}-{rng.getrandbits(128):032x}",
        "jobid": int(fwjr_id.split("-", 1)[0]),
        "time_stamp" if old_spelling else "timestamp": meta["ts"],
        "jobstate": meta["jobstate"],
        "jobtype": meta["jobtype"],
        "retrycount": meta["retry_count"],
    }
    if not old_spelling:
        envelope["archivestatus"] = "ready" if revision == 1 else "uploaded"
    envelope["type"] = "fwjr"
    envelope["fwjr"] = fwjr
    return envelope


def _inputs(files: list[dict], lfns: list[str], pfns: list[str]) -> dict:
    """Input files keyed by their source's label, with names instead of indexes."""
    keyed: dict[str, list[dict]] = {}
    for entry in files:
        item = dict(entry)
        item["lfn"] = lfns[entry["lfn"]]
        if "pfn" in entry:
            item["pfn"] = pfns[entry["pfn"]] if pfns else ""
        keyed.setdefault(entry.get("module_label", "logArchives"), []).append(item)
    return keyed


def _outputs(files: list[dict], lfns: list[str], pfns: list[str]) -> dict:
    """Output files keyed by output module, each naming its LFN, PFN and parents."""
    keyed: dict[str, list[dict]] = {}
    for entry in files:
        item = {key: value for key, value in entry.items() if key not in ("outputLFNs", "outputPFNs", "inputLFNs", "inputPFNs")}
        out_lfns = entry.get("outputLFNs") or []
        out_pfns = entry.get("outputPFNs") or []
        item["lfn"] = lfns[out_lfns[0]] if out_lfns else ""
        item["pfn"] = pfns[out_pfns[0]] if out_pfns and pfns else ""
        item["input"] = [lfns[index] for index in entry.get("inputLFNs") or ()]
        if "adler32" in item:
            item["checksums"] = {"adler32": item.pop("adler32"), "cksum": item.pop("cksum")}
        keyed.setdefault(entry.get("module_label", "logCollect"), []).append(item)
    return keyed


def _performance(groups: dict) -> dict:
    return {
        name: {key: str(value) for key, value in group.items()} if name in _TEXT_GROUPS else dict(group)
        for name, group in groups.items()
    }
