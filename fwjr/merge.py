"""Phase 1: one FWJR document -> one merged job record (the rules of docs/merge.md).

This is the only merge implementation: the Faust worker, the Spark replay and the
offline commands all call `merge_document`, so their job records cannot drift apart.
It also absorbs the schema drift real documents carry (see fwjr.values and
docs/merge.md), because normalising and merging in one pass over the steps is what
keeps the hot path near the bare decode rate.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

from fwjr.errors import RejectedDocument
from fwjr.metrics import BY_GROUP, GROUP_ALIASES
from fwjr.model import Job, StepError
from fwjr.signature import signature
from fwjr.values import MAX_METRIC, as_float, as_int, as_metric, as_str, unwrap

# Characters of an error message kept per error: a cmsRun log tail is read from both ends, so
# a longer text keeps its head and its tail and says how much was cut between them.
MAX_ERROR_DETAILS: Final = 16384
_DETAILS_HALF: Final = MAX_ERROR_DETAILS // 2
_NO_ERROR_CODE: Final = -1
# The last second a UTC bucket can be shown for (9999-12-31T23:59:59Z).
_LATEST_TS: Final = 253402300799
# Performance group name (aliases included) -> {metric name: rule}, for the merge's inner loop.
_RULES_BY_GROUP: Final[dict[str, dict[str, str]]] = {group: dict(rules) for group, rules in BY_GROUP.items()}
_RULES_BY_GROUP.update({alias: _RULES_BY_GROUP[group] for alias, group in GROUP_ALIASES.items()})
# Exit codes are stored as Int32; a code outside it is unreadable, not a number to wrap.
_EXIT_CODE_RANGE: Final = range(-(2**31), 2**31)
# Which error is the job's exit code (docs/merge.md, "The first real error"): an error the
# agent raised when it killed the job explains the errors of the steps it cut short; a
# follow-on error only reports an earlier failure (the log tail, a missing step report).
_AGENT_KILL_TYPES: Final = frozenset({"JobKilled", "PerformanceKill"})
_AGENT_KILL_STEPS: Final = frozenset({"JobKilled", "PerformanceError"})
_FOLLOW_ON_TYPES: Final = frozenset({"ErrorLoggingAddition", "ReportManipulatingError"})
_RANK_KILL: Final = 0
_RANK_REAL: Final = 1
_RANK_FOLLOW_ON: Final = 2
_RANK_NONE: Final = 3
# Where the agent's CouchDB envelope keeps what the archive form has in meta_data.
_ENVELOPE_IDS: Final = ("_id", "id", "uid")
_ENVELOPE_TIMES: Final = ("timestamp", "time_stamp")
_ENVELOPE_RETRIES: Final = ("retrycount", "retry_count")


def merge_document(doc: Any, source: str = "") -> Job:
    """Merge one decoded FWJR into a Job, or raise RejectedDocument saying why not."""
    if type(doc) is not dict:
        raise RejectedDocument("document is not a JSON object", "<document>", type(doc).__name__, source)
    doc = _unwrap_envelope(doc, source)
    meta = doc.get("meta_data")
    if type(meta) is not dict:
        meta = {}
    steps = _steps_of(doc, source)
    ts = _timestamp(doc, meta, steps, source)
    workflow, task = split_task(as_str(doc.get("task")))

    site = ""
    exit_code = 0
    exit_step = ""
    exit_rank = _RANK_NONE
    acquisition_era = ""
    errors: list[StepError] = []
    totals: dict[str, float] = {}
    weighted: dict[str, float] = {}
    weights: dict[str, float] = {}
    span_total = 0.0
    span_seen = False
    events = 0.0

    for name, step in steps:
        if not site:
            step_site = step.get("site")
            if type(step_site) is str and step_site:
                site = step_site
        start = _second(step.get("start", step.get("startTime")))
        stop = _second(step.get("stop", step.get("stopTime")))
        span = stop - start if start is not None and stop is not None and stop >= start else None
        if span is not None:
            span_total += span
            span_seen = True
        step_errors = step.get("errors")
        if step_errors:
            for error in _error_list(step_errors):
                code = _exit_code(error)
                details = as_str(error.get("details"))
                kind = as_str(error.get("type"))
                errors.append(StepError(name, code, kind, _kept(details), signature(details)))
                rank = _error_rank(name, kind)
                if rank < exit_rank:
                    exit_rank = rank
                    exit_code = code
                    exit_step = name
        step_events, era = _outputs(step.get("output"))
        if step_events > events:
            events = step_events
        if not acquisition_era:
            acquisition_era = era
        performance = step.get("performance")
        if type(performance) is dict and performance:
            weight = _step_weight(span, performance)
            taken: set[str] | None = set() if "cmssw" in performance else None
            _combine(performance, weight, totals, weighted, weights, taken)

    for name, value_sum in weighted.items():
        totals[name] = value_sum / weights[name]

    if not site:
        site = as_str(doc.get("siteName"))
    jobstate = as_str(meta.get("jobstate"))
    failed = jobstate != "success" if jobstate else exit_code != 0
    wall_time = _wall_time(span_total if span_seen else None, doc, totals)
    metrics = _derived(totals, wall_time, events, failed)
    efficiency = _efficiency(metrics)

    return Job(
        identity=_identity(doc, meta, steps, ts, source),
        ts=ts,
        workflow=workflow,
        task=task,
        site=site,
        host=as_str(meta.get("host")),
        jobtype=as_str(meta.get("jobtype")),
        jobstate=jobstate,
        exit_code=exit_code,
        exit_step=exit_step,
        acquisition_era=acquisition_era,
        campaign=as_str(doc.get("Campaign")),
        wn_name=as_str(meta.get("wn_name")) or as_str(doc.get("hostName")),
        fwjr_id=as_str(meta.get("fwjr_id")),
        agent_ver=as_str(meta.get("agent_ver")),
        retry_count=_retry_count(meta),
        failed=failed,
        metrics=metrics,
        cpu_efficiency=efficiency,
        efficiency_outlier=efficiency is not None and efficiency > 1.0,
        errors=errors,
        log_archive=_log_archive(doc, steps),
    )


def _error_rank(step: str, kind: str) -> int:
    """How strongly an error explains the job's failure: lower wins, ties go to document order."""
    if kind in _AGENT_KILL_TYPES or step in _AGENT_KILL_STEPS:
        return _RANK_KILL
    if kind in _FOLLOW_ON_TYPES:
        return _RANK_FOLLOW_ON
    return _RANK_REAL


def _kept(details: str) -> str:
    """The message as stored: whole when short, else its head and tail around a marked cut."""
    if len(details) <= MAX_ERROR_DETAILS:
        return details
    cut = len(details) - 2 * _DETAILS_HALF
    return f"{details[:_DETAILS_HALF]}\n[... {cut} characters cut ...]\n{details[-_DETAILS_HALF:]}"


def _retry_count(meta: dict) -> int:
    """How many times the agent had retried the job before this report (0 when not said)."""
    count = as_int(meta.get("retry_count"))
    return count if count is not None and 0 <= count < 2**31 else 0


def _second(value: Any) -> float | None:
    """A step start or stop in whole epoch seconds, the archive schema's `long`.

    Raw agent reports carry sub-second times; truncating them here keeps a report and
    its Avro copy merging to the same wall time and identity.
    """
    moment = as_metric(value)
    return None if moment is None else float(int(moment))


def split_task(task: str) -> tuple[str, str]:
    """(workflow, task) from a task path: its first and last non-empty parts.

    CRAB tasks carry no slash but `id:name`; there the whole string is the workflow
    and the name after the first colon is the task.
    """
    if "/" in task:
        parts = [part for part in task.split("/") if part]
        if parts:
            return parts[0], parts[-1]
        return "", ""
    if ":" in task:
        return task, task.split(":", 1)[1]
    return task, task


def _unwrap_envelope(doc: dict, source: str) -> dict:
    """The report inside the wrappers it arrives in: `{"data": [doc]}`, the agent's CouchDB
    envelope `{_id, timestamp, jobstate, jobtype, retrycount, fwjr: {task, steps}}` (2015:
    `time_stamp`, `uid` or `id`), whose fields become the report's meta_data as WMCore's
    archive conversion makes them."""
    data = doc.get("data")
    if "steps" not in doc and type(data) is list:
        if len(data) != 1 or type(data[0]) is not dict:
            raise RejectedDocument("envelope must hold exactly one report", "data", len(data), source)
        doc = data[0]
    inner = doc.get("fwjr")
    if "steps" not in doc and type(inner) is dict:
        merged = dict(inner)
        for key in ("wmaid", "task", "Campaign"):
            if key in doc and key not in merged:
                merged[key] = doc[key]
        merged["meta_data"] = _envelope_meta(doc, inner)
        return merged
    meta = doc.get("meta_data")
    if type(meta) is dict and "retry_count" not in meta:
        retries = _first_present(doc, _ENVELOPE_RETRIES)
        if retries is not None:
            doc = dict(doc)
            doc["meta_data"] = dict(meta, retry_count=retries)
    return doc


def _envelope_meta(envelope: dict, inner: dict) -> dict:
    """meta_data for an enveloped report: its own fields first, then the envelope's."""
    own = inner.get("meta_data", envelope.get("meta_data"))
    meta = dict(own) if type(own) is dict else {}
    filled = (
        ("ts", _first_present(envelope, _ENVELOPE_TIMES)),
        ("jobstate", envelope.get("jobstate")),
        ("jobtype", envelope.get("jobtype")),
        ("fwjr_id", _first_present(envelope, _ENVELOPE_IDS)),
        ("retry_count", _first_present(envelope, _ENVELOPE_RETRIES)),
    )
    for key, value in filled:
        if value is not None and value != "" and (unwrap(meta.get(key)) is None or meta.get(key) == ""):
            meta[key] = value
    return meta


def _first_present(doc: dict, keys: tuple[str, ...]) -> Any:
    """The value of the first of these keys that the document has and that is not null."""
    for key in keys:
        value = doc.get(key)
        if value is not None:
            return value
    return None


def _steps_of(doc: dict, source: str) -> list[tuple[str, dict]]:
    """Steps as (name, step) in document order, whatever shape the agent wrote them in."""
    steps = doc.get("steps")
    if not steps and type(steps) in (list, dict, type(None)):
        raise _not_a_report(doc, source)
    if type(steps) is list:
        result = []
        for index, step in enumerate(steps):
            if type(step) is dict:
                result.append((as_str(step.get("name")) or f"step{index}", step))
            elif type(step) is str and type(doc.get(step)) is dict:
                result.append((step, doc[step]))
            else:
                raise RejectedDocument("step is neither an object nor a step name", f"steps[{index}]", step, source)
        return result
    if type(steps) is dict:
        return [(name, step) for name, step in steps.items() if type(step) is dict]
    raise RejectedDocument("steps is neither a list nor an object", "steps", steps, source)


def _not_a_report(doc: dict, source: str) -> RejectedDocument:
    """Why a document with no steps is refused: it is something else (an aggregate, a
    dictionary, an ACDC record), so the reason names what it has, not a missing field."""
    kind = doc.get("type")
    reason = "not a job report: no steps"
    if type(kind) is str and kind and kind != "fwjr":
        reason = f"not a job report: no steps (document type {kind!r})"
    return RejectedDocument(reason, "steps", sorted(str(key) for key in doc)[:12], source)


def _timestamp(doc: dict, meta: dict, steps: list[tuple[str, dict]], source: str) -> int:
    """meta_data.ts (an envelope's time is there already); else the last step stop, as raw
    agent reports without meta_data have nothing else."""
    raw = unwrap(meta.get("ts"))
    if raw is None:
        stops = [as_float(step.get("stop", step.get("stopTime"))) for _, step in steps]
        known = [stop for stop in stops if stop is not None]
        if not known:
            raise RejectedDocument(
                "no time: no meta_data.ts, no envelope timestamp and no step stop time", "meta_data.ts", None, source
            )
        raw = max(known)
        if not 0 < raw <= _LATEST_TS:
            raise RejectedDocument("last step stop time is not a plausible epoch time", "steps[].stop", raw, source)
        return int(raw)
    ts = as_float(raw)
    if ts is None or ts <= 0:
        raise RejectedDocument("meta_data.ts is not a positive epoch time", "meta_data.ts", raw, source)
    if ts > 1e11:
        ts = ts / 1000.0
    if ts > _LATEST_TS:
        raise RejectedDocument("meta_data.ts is beyond the year 9999", "meta_data.ts", raw, source)
    return int(ts)


def _error_list(errors: Any) -> list[dict]:
    """A step's errors as a list of objects (some agents wrote one object, not a list)."""
    if type(errors) is list:
        return [error for error in errors if type(error) is dict]
    if type(errors) is dict and errors:
        return [errors]
    return []


def _exit_code(error: dict) -> int:
    """The error's exit code; a numeric `type` stands in when exitCode is unreadable."""
    code = as_int(error.get("exitCode"))
    if code is None or code not in _EXIT_CODE_RANGE:
        code = as_int(error.get("type"))
    return code if code is not None and code in _EXIT_CODE_RANGE else _NO_ERROR_CODE


def _outputs(outputs: Any) -> tuple[float, str]:
    """(events written by this step, first acquisition era) from the step's output files."""
    files = _output_files(outputs)
    if not files:
        return 0.0, ""
    events = 0.0
    era = ""
    for output in files:
        if type(output) is not dict:
            continue
        count = as_metric(output.get("events"))
        if count:
            events += count
        if not era:
            era = as_str(output.get("acquisitionEra"))
    return events, era


def _output_files(outputs: Any) -> list:
    """A step's output file entries, whatever shape the agent wrote them in.

    The archive format has a list; 2015 reports key lists by output module, and raw
    agent reports key `{"files": {"file0": {...}}}` objects by output module.
    """
    if type(outputs) is list:
        return outputs
    if type(outputs) is not dict:
        return []
    files: list = []
    for module in outputs.values():
        if type(module) is list:
            files.extend(module)
        elif type(module) is dict and type(module.get("files")) is dict:
            files.extend(module["files"].values())
    return files


def _step_weight(span: float | None, performance: dict) -> float:
    """How much a step's averages count: its duration, else its cmsRun time, else 1."""
    if span:
        return span
    cpu = performance.get("cpu")
    if type(cpu) is dict:
        job_time = as_metric(cpu.get("TotalJobTime"))
        if job_time:
            return job_time
    return 1.0


def _combine(
    performance: dict,
    weight: float,
    totals: dict[str, float],
    weighted: dict[str, float],
    weights: dict[str, float],
    taken: set[str] | None,
) -> None:
    """Fold one step's performance groups into the job's running values, rule by rule.

    Raw agent reports carry the same metric twice in one step (`cmssw.Timing` and
    `cpu`); for those steps `taken` keeps the first so a step's totals are not counted
    double. Archive documents have no `cmssw` block and skip that bookkeeping (None).
    The `cmssw` block is read one level deep, as the agents write it, not recursively:
    compiled (docs/merge.md) a recursion would have no depth limit on hostile input.
    """
    for group_name, group in performance.items():
        if type(group) is not dict:
            continue
        if group_name == "cmssw":
            for inner_name, inner in group.items():
                if type(inner) is dict:
                    _combine_group(inner_name, inner, weight, totals, weighted, weights, taken)
        else:
            _combine_group(group_name, group, weight, totals, weighted, weights, taken)


def _combine_group(
    group_name: str,
    group: dict,
    weight: float,
    totals: dict[str, float],
    weighted: dict[str, float],
    weights: dict[str, float],
    taken: set[str] | None,
) -> None:
    """Fold one performance group (`cpu`, `memory`, `Timing`, ...) by the rules of its metrics."""
    rules = _RULES_BY_GROUP.get(group_name)
    if rules is None:
        return
    # Walk the values the step has (not the whole table); plain non-negative
    # floats, the common case, skip the coercion call.
    for name, raw in group.items():
        rule = rules.get(name)
        if rule is None:
            continue
        if type(raw) is float and 0.0 <= raw <= MAX_METRIC:
            value = raw
        elif raw is None:  # decoded Avro records name every field, most of them null
            continue
        else:
            coerced = as_metric(raw)
            if coerced is None:
                continue
            value = coerced
        if taken is not None:
            if name in taken:
                continue
            taken.add(name)
        if rule == "sum":
            totals[name] = totals.get(name, 0.0) + value
        elif rule == "max":
            if value > totals.get(name, -1.0):
                totals[name] = value
        elif rule == "min":
            current = totals.get(name)
            if current is None or value < current:
                totals[name] = value
        else:
            weighted[name] = weighted.get(name, 0.0) + value * weight
            weights[name] = weights.get(name, 0.0) + weight


def _wall_time(span_total: float | None, doc: dict, totals: dict[str, float]) -> float | None:
    """Wall time: the steps' summed durations, else WMTiming, else the cmsRun job time."""
    if span_total is not None and span_total > 0:
        return span_total
    timing = doc.get("WMTiming")
    if type(timing) is dict:
        wall = as_metric(timing.get("WMTotalWallClockTime"))
        if wall:
            return wall
    return totals.get("TotalJobTime")


def _derived(totals: dict[str, float], wall_time: float | None, events: float, failed: bool) -> dict[str, float]:
    """Add wall time, cores, core-hours, CPU-hours, waste and badput to the step totals."""
    metrics = totals
    cores = totals.get("NumberOfThreads") or 1.0
    metrics["cores"] = cores
    if events:
        metrics["events"] = events
    if wall_time is None:
        return metrics
    metrics["wall_time"] = wall_time
    core_hours = wall_time * cores / 3600.0
    metrics["core_hours"] = core_hours
    metrics["wasted_core_hours"] = core_hours if failed else 0.0
    cpu = totals.get("TotalJobCPU")
    if cpu is not None:
        cpu_hours = cpu / 3600.0
        metrics["cpu_hours"] = cpu_hours
        metrics["badput_core_hours"] = core_hours - cpu_hours
    return metrics


def _efficiency(metrics: dict[str, float]) -> float | None:
    """CPU time over core time for one job; None when either is unknown."""
    core_hours = metrics.get("core_hours")
    cpu_hours = metrics.get("cpu_hours")
    if not core_hours or cpu_hours is None:
        return None
    return cpu_hours / core_hours


def _log_archive(doc: dict, steps: list[tuple[str, dict]]) -> str:
    """The job's log archive LFN, where operators go to read the logs: from LFNArray, else
    from the output of its log-archiving step (the agent's form has no LFNArray)."""
    lfns = doc.get("LFNArray")
    if type(lfns) is list:
        for lfn in lfns:
            if type(lfn) is str and "logArchive" in lfn:
                return lfn
    for name, step in steps:
        if name.startswith("logArch"):
            for output in _output_files(step.get("output")):
                if type(output) is dict:
                    lfn = output.get("lfn")
                    if type(lfn) is str and "logArchive" in lfn:
                        return lfn
    return ""


def _identity(doc: dict, meta: dict, steps: list[tuple[str, dict]], ts: int, source: str) -> str:
    """`wmaid` when present, else a hash of the fields that identify one run of one job.

    The hash covers what every encoding of the same report keeps (task, meta_data,
    step names and times), so the JSON and Avro copies of one report get one identity.
    """
    wmaid = as_str(doc.get("wmaid"))
    if wmaid:
        return wmaid
    parts = [as_str(doc.get("task")), as_str(meta.get("fwjr_id")), as_str(meta.get("host")), str(ts)]
    for name, step in steps:
        parts.append(name)
        parts.append(repr(_second(step.get("start", step.get("startTime")))))
        parts.append(repr(_second(step.get("stop", step.get("stopTime")))))
    return "h:" + hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()


def archive_form(doc: dict) -> dict:
    """The report reshaped into the archive's layout, merging exactly as the original does.

    Writing Avro means fitting the archive schema, which knows neither envelopes, nor
    steps keyed by name, nor raw agent reports (step objects at the top level, outputs
    keyed by module, startTime/stopTime, siteName/hostName). Each of those is moved to the
    place the schema has for it, so `merge_document(archive_form(d)) == merge_document(d)`.
    Raises RejectedDocument for what cannot be a report at all.
    """
    if type(doc) is not dict:
        raise RejectedDocument("document is not a JSON object", "<document>", type(doc).__name__)
    doc = _unwrap_envelope(doc, "")
    steps = _steps_of(doc, "")
    step_names = {name for name, _ in steps if doc.get(name) is not None}
    form = {key: value for key, value in doc.items() if key not in step_names and key != "steps"}
    meta = dict(doc["meta_data"]) if type(doc.get("meta_data")) is dict else {}
    if unwrap(meta.get("ts")) is None:
        try:
            meta["ts"] = _timestamp(doc, meta, steps, "")
        except RejectedDocument:
            pass
    if not as_str(meta.get("wn_name")) and as_str(doc.get("hostName")):
        meta["wn_name"] = doc["hostName"]
    form["meta_data"] = meta
    log_archive = _log_archive(doc, steps)
    lfns: list[Any] = form["LFNArray"] if type(form.get("LFNArray")) is list else []
    if log_archive and log_archive not in lfns:
        form["LFNArray"] = [*lfns, log_archive]  # the schema's step outputs have no LFN
    fallback_site = "" if any(_has_site(step) for _, step in steps) else as_str(doc.get("siteName"))
    form["steps"] = [_archive_step(name, step, fallback_site) for name, step in steps]
    return form


def _has_site(step: dict) -> bool:
    site = step.get("site")
    return type(site) is str and bool(site)


def _archive_step(name: str, step: dict, fallback_site: str) -> dict:
    form = dict(step)
    form["name"] = name
    if "start" not in form and "startTime" in step:
        form["start"] = step["startTime"]
    if "stop" not in form and "stopTime" in step:
        form["stop"] = step["stopTime"]
    if fallback_site:
        form["site"] = fallback_site
    if "output" in step and type(step["output"]) is not list:
        form["output"] = _output_files(step["output"])
    return form
