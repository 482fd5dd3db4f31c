"""Drift and damage: how real agents and exports changed documents, and what consumers must reject.

Each drift function changes one freshly built archive-form document (never a shared one)
the way real agents and exports did, and says whether it applied. `malformed` turns a
document into something a consumer must reject.
"""

from __future__ import annotations

import random

import orjson

from fwjr.synth.draws import Choice, pick, randint

Document = dict | bytes

_BAD_METRIC_VALUES = (-1, -1.0, "nan", "inf", "-nan", "")


def _steps_of(doc: dict) -> list[dict]:
    return doc["steps"] if isinstance(doc["steps"], list) else list(doc["steps"].values())


def _drift_null_numbers(doc: dict, rng: random.Random) -> bool:
    step = pick(rng, _steps_of(doc))
    step[pick(rng, ("start", "stop"))] = None
    cpu = step.get("performance", {}).get("cpu")
    if cpu:
        cpu[pick(rng, sorted(cpu))] = None
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
        for key in rng.sample(sorted(group), k=min(len(group), randint(rng, 1, 4))):
            group[key] = pick(rng, _BAD_METRIC_VALUES)
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
_DRIFT_CHOICE = Choice(DRIFTS)


def apply_drift(doc: dict, rng: random.Random) -> None:
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


def malformed(doc: dict, rng: random.Random) -> Document:
    """Something a consumer must reject, built from a real-looking document."""
    kind = rng.randrange(5)
    if kind == 0:
        data = orjson.dumps(doc)
        return data[: randint(rng, 1, len(data) - 1)]
    if kind == 1:
        return orjson.dumps([doc])
    if kind == 2:
        return {key: value for key, value in doc.items() if key not in ("steps", "meta_data")}
    if kind == 3:  # no time at all: neither meta_data.ts nor any step's start/stop to fall back on
        del doc["meta_data"]["ts"]
        for step in doc["steps"]:
            step["start"] = step["stop"] = None
        return doc
    doc["meta_data"]["ts"] = pick(rng, ("yesterday", "", "2026-11-20T10:00:00Z", "None"))
    return doc
