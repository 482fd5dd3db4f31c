"""One job's report in the archive layout: the job-level decisions and the steps they lead to.

Per job: a jobtype and task from the catalogue, an agent host, a report shape (a job the
agent killed, a watchdog kill, a report that never came back, a failed job without an
error, or an ordinary job), a site, whether and where it fails, its retry count, then the
steps. The shares come from `fwjr.synth.model.Shapes`; docs/generator.md says what each
shape looks like and where its numbers come from.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timezone

from fwjr.synth.catalogue import AGENT_VERSIONS, Catalog, Task, Workflow, site_storage
from fwjr.synth.draws import Choice, pick, randint
from fwjr.synth.messages import JOB_KILLED_TYPE, NO_JOB_REPORT_TYPE, Messages
from fwjr.synth.model import Shapes, load_model
from fwjr.synth.parts import Files, empty_performance, empty_step, inputs, log_archive_lfn, outputs, performance
from fwjr.synth.scenarios import Burst

PERFORMANCE_ERROR_STEP = "PerformanceError"
_CODE_TABLES_SKIPPED = ("about", "failing_step_share")
_SINGLE_STEP = {"LogCollect": ("logCollect1", "logCollect"), "Cleanup": ("cleanupUnmerged1", "cleanup")}
_SHORT_FAILURES = (85, 84, 8028, 73, 10040)  # fail before the first event: no metrics, a short step
_WALLCLOCK_LIMIT = 172800  # the wrapper's and the agent's wall-time limit, seconds
_WALLCLOCK_KILLS = (50664, 71304, 71306, 71307)
_FAILED_STATES = ("jobfailed", "jobfailed", "jobfailed", "failed")


@dataclass(frozen=True)
class Failure:
    """Where a job fails (a step class: cmsRun, stageOut, logArch, upload, logCollect, cleanup) and with what code.

    `killed` marks a watchdog kill: the cmsRun step is cut short and the agent adds a
    PerformanceError pseudo-step carrying `code`.
    """

    step_class: str
    code: int
    killed: bool = False
    message: str | None = None  # a scenario's fixed error text


class Builder:
    """Builds one job's document; holds the seeded stream and the precomputed choices."""

    def __init__(self, seed: int, start_ts: int, bursts: list[Burst], shapes: Shapes) -> None:
        model = load_model()
        self.rng = random.Random(seed)
        self.catalog = Catalog(seed, start_ts)
        self.start_ts = start_ts
        self.bursts = bursts
        self.shapes = shapes
        self.sites = Choice((name, jobs) for name, (jobs, _) in model["sites"].items())
        self.site_rate = {name: rate for name, (_, rate) in model["sites"].items()}
        self.base_rate = model["sited_failure_rate"]
        self.min_rate = model["min_failure_rate"]
        # the agent-killed share stands for the killed part of the jobs without a site
        self.unsited_keep = 1.0 - model["no_site_killed_fraction"]
        present = [j for j in model["jobtypes"] if j in self.catalog.by_jobtype]
        self.jobtypes = Choice((j, model["jobtypes"][j]["jobs"]) for j in present)
        self.jobtype_model = model["jobtypes"]
        self.burst_workflows = self._burst_workflows(bursts)
        self.host_agent = {h: AGENT_VERSIONS[i % len(AGENT_VERSIONS)] for i, h in enumerate(model["hosts"])}
        self.host_jobid = {h: 100000 + 150000 * i for i, h in enumerate(model["hosts"])}
        tables = {cls: table for cls, table in model["exit_codes"].items() if cls not in _CODE_TABLES_SKIPPED}
        self.codes = {cls: Choice((int(c), w) for c, w in table.items()) for cls, table in tables.items()}
        self.code_class = {int(c): cls for cls, table in tables.items() for c in table}
        self.failing_step = Choice(model["exit_codes"]["failing_step_share"].items())
        self.messages = Messages(self.rng, model["exit_code_text"])
        # one draw picks the job's shape: cumulative bounds of the four job shapes
        bounds, total = [], 0.0
        for name in ("agent_killed", "performance_kill", "no_job_report", "failed_without_error"):
            total += getattr(shapes, name)
            bounds.append((total, name))
        self.shape_bounds = bounds
        self.shape_total = total
        self.retry_weights: dict[tuple[str, bool], tuple[float, float]] = {}

    # ---- job-level decisions

    def job(self, ts: int) -> dict:
        rng = self.rng
        jobtype = self.jobtypes.pick(rng)
        task: Task = self.catalog.by_jobtype[jobtype].pick(rng)
        jt = self.jobtype_model[jobtype]
        hosts = task.workflow.hosts
        host = hosts[0] if len(hosts) == 1 else pick(rng, hosts)
        self.host_jobid[host] += 1
        job_id = self.host_jobid[host]
        draw = rng.random()
        shape = None
        if draw < self.shape_total:
            for bound, name in self.shape_bounds:
                if draw < bound:
                    shape = name
                    break
        if shape == "agent_killed":
            return self._pseudo_job(ts, task, host, job_id, JOB_KILLED_TYPE, self.codes["agent_killed"].pick(rng))
        if shape == "no_job_report":
            return self._pseudo_job(ts, task, host, job_id, NO_JOB_REPORT_TYPE, self.codes["no_job_report"].pick(rng))
        if shape is None and rng.random() < jt["no_site_share"] * self.unsited_keep:
            return self._unsited_failure(ts, task, host, job_id, jt)
        site = self.sites.pick(rng)
        forced = self._burst(site, ts, task.workflow.name)
        jobstate = None
        if forced is not None:
            failure: Failure | None = Failure(self._forced_step_class(task, forced.exit_code), forced.exit_code, message=forced.message)
        elif shape == "performance_kill":
            if task.jobtype in _SINGLE_STEP:  # a watchdog kill needs a cmsRun step to kill
                task = self.catalog.by_jobtype["Processing"].pick(rng)
            failure = Failure("cmsRun", self.codes["performance_kill"].pick(rng), killed=True)
        elif shape == "failed_without_error":
            failure, jobstate = None, pick(rng, _FAILED_STATES)
        else:
            # P(fail) = jobtype rate x how much worse than average the site did that day x the workflow's trouble
            rate = max(jt["failure_rate"], self.min_rate) * self.site_rate[site] / self.base_rate
            failure = self._natural_failure(task) if rng.random() < min(0.95, rate * task.workflow.trouble) else None
        if jobstate is None:
            jobstate = "success" if failure is None else "jobfailed"
        retry = self._retry(jobstate != "success", task.workflow)
        return self._sited_job(ts, task, host, job_id, retry, site, failure, jobstate)

    def _retry(self, failed: bool, wf: Workflow) -> int:
        """How many earlier attempts this job had: more after failures, in troubled and ACDC workflows."""
        # P(k) ~ again**k for k = 0..retry_max: every attempt writes a report, so the
        # reports of a job that keeps failing spread over the retries instead of piling up at the last
        known = self.retry_weights.get((wf.name, failed))
        if known is None:
            shapes = self.shapes
            base = shapes.retry_after_failure if failed else shapes.retry_after_success
            again = min(0.9, base * wf.trouble * (1.5 if wf.acdc else 1.0))
            known = self.retry_weights[(wf.name, failed)] = (again, sum(again**k for k in range(shapes.retry_max + 1)))
        again, total = known
        draw = self.rng.random() * total
        if draw < 1.0:
            return 0
        count, weight = 0, 1.0
        while count < self.shapes.retry_max and draw >= weight:
            draw -= weight
            count += 1
            weight *= again
        return count

    def _burst_workflows(self, bursts: list[Burst]) -> list[str | None]:
        """Each burst's workflow name (None for a site-wide burst), from its workflow_rank."""
        ranked = self.catalog.busiest({j: float(self.jobtype_model[j]["jobs"]) for j in self.catalog.by_jobtype})
        names: list[str | None] = []
        for index, burst in enumerate(bursts):
            if burst.workflow_rank is not None and burst.workflow_rank > len(ranked):
                raise ValueError(f"scenario bursts[{index}]: workflow_rank {burst.workflow_rank}, but only {len(ranked)} workflows are generated")
            names.append(None if burst.workflow_rank is None else ranked[burst.workflow_rank - 1].name)
        return names

    def _burst(self, site: str, ts: int, workflow: str) -> Burst | None:
        for burst, burst_workflow in zip(self.bursts, self.burst_workflows):
            begin = self.start_ts + burst.start_minute * 60
            in_window = (
                (burst.site is None or burst.site == site)
                and (burst_workflow is None or burst_workflow == workflow)
                and begin <= ts < begin + burst.minutes * 60
            )
            if in_window and self.rng.random() < burst.failure_rate:
                return burst
        return None

    def _natural_failure(self, task: Task) -> Failure:
        """The failing step class for this kind of job, and a code from that class's skew."""
        if task.jobtype in _SINGLE_STEP:
            cls = _SINGLE_STEP[task.jobtype][1]
        elif task.jobtype == "Harvesting":
            cls = "upload" if self.rng.random() < 0.4 else "cmsRun"
        else:
            cls = self.failing_step.pick(self.rng)
        return Failure(cls, self.codes[cls].pick(self.rng))

    def _forced_step_class(self, task: Task, code: int) -> str:
        """Where a scenario's code fails: its own step class when this job has that step, else cmsRun.

        Single-step jobs (LogCollect, Cleanup) fail in their only step whatever the class.
        """
        if task.jobtype in _SINGLE_STEP:
            return _SINGLE_STEP[task.jobtype][1]
        cls = self.code_class.get(code, "cmsRun")
        if cls == "upload" and task.jobtype != "Harvesting":
            return "stageOut"
        return cls if cls in ("cmsRun", "stageOut", "logArch", "upload") else "cmsRun"

    # ---- the document around the steps

    def _meta(self, ts: int, task: Task, host: str, job_id: int, retry: int, jobstate: str, wn_name: str) -> dict:
        return {
            "agent_ver": self.host_agent[host],
            "fwjr_id": f"{job_id}-{retry}",
            "host": host,
            "ts": ts,
            "jobstate": jobstate,
            "jobtype": task.jobtype,
            "wn_name": wn_name,
            "retry_count": retry,
        }

    def _report(self, ts: int, task: Task, meta: dict, steps: list, files: Files, wall: float) -> dict:
        wf = task.workflow
        return {
            "wmaid": f"{self.rng.getrandbits(128):032x}",
            "wmats": ts + randint(self.rng, 5, 300) + 0.5,
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

    # ---- jobs without a site: the agent's pseudo-steps, failures before the job ran

    def _pseudo_job(self, ts: int, task: Task, host: str, job_id: int, name: str, code: int) -> dict:
        """A job known only by the agent's note: one pseudo-step with the error, `site: {}`, no times."""
        rng = self.rng
        retry = self._retry(True, task.workflow)
        self.messages.job(task, "", ts, job_id, retry, self.host_agent[host])
        step = empty_step(name, {}, None, None, 1)
        if name == JOB_KILLED_TYPE:
            step["errors"] = [self.messages.job_killed(code)]
            wall = _WALLCLOCK_LIMIT * rng.uniform(1.0, 1.05) if code in _WALLCLOCK_KILLS else 0.0
            if code not in _WALLCLOCK_KILLS and code != 71305:  # 71305: killed while still pending
                wall = rng.lognormvariate(math.log(3 * 3600), 1.0)
        else:
            step["errors"] = [self.messages.no_job_report(code)]
            wall = rng.lognormvariate(math.log(max(self.jobtype_model[task.jobtype]["job_seconds"], 600.0)), 0.8)
        meta = self._meta(ts, task, host, job_id, retry, "jobfailed", "")
        return self._report(ts, task, meta, [step], Files(), wall)

    def _unsited_failure(self, ts: int, task: Task, host: str, job_id: int, jt: dict) -> dict:
        rng = self.rng
        submit = rng.random() < jt["no_site_submitfailed_share"]
        code = self.codes["submit" if submit else "no_site"].pick(rng)
        name = "JobSubmit" if submit else "cmsRun1"
        retry = self._retry(True, task.workflow)
        self.messages.job(task, "", ts, job_id, retry, self.host_agent[host])
        step = empty_step(name, {}, None, None, 1)
        step["errors"] = [self.messages.error(code, name)]
        meta = self._meta(ts, task, host, job_id, retry, "submitfailed" if submit else "jobfailed", "")
        return self._report(ts, task, meta, [step], Files(), 0)

    # ---- jobs that ran at a site

    def _sited_job(
        self, ts: int, task: Task, host: str, job_id: int, retry: int, site: str, failure: Failure | None, jobstate: str
    ) -> dict:
        rng = self.rng
        files = Files()
        storage = site_storage(site)
        end = ts - randint(rng, 20, 900)
        wn = f"{pick(rng, ('cmswn', 'wn', 'node', 'batch'))}{randint(rng, 1, 4999):04d}.{storage[2]}"
        if failure is not None:
            self.messages.job(task, site, end, job_id, retry, self.host_agent[host])
        single = _SINGLE_STEP.get(task.jobtype)
        if single is not None:
            steps, wall = self._single_step_job(task, site, end, single[0], failure, files, storage)
        else:
            steps, wall = self._cmsrun_job(task, site, end, failure, files, storage)
        meta = self._meta(ts, task, host, job_id, retry, jobstate, wn)
        return self._report(ts, task, meta, steps, files, wall)

    def _single_step_job(
        self, task: Task, site: str, end: int, name: str, failure: Failure | None, files: Files, storage: tuple[str, str, str]
    ) -> tuple[list[dict], float]:
        rng = self.rng
        duration = rng.uniform(5, 300) if name == "logCollect1" else rng.uniform(2, 60)
        step = empty_step(name, site, int(end - duration), end, 0)
        if name == "logCollect1":
            wf = task.workflow
            day = datetime.fromtimestamp(end, tz=timezone.utc)
            tar = (
                f"/store/logs/prod/{day.year}/{day.month:02d}/WMAgent/{wf.name}/"
                f"{wf.name}-{task.path.rsplit('/', 1)[-1]}-{randint(rng, 1, 99)}-logs.tar"
            )
            tarballs = [
                files.lfn(log_archive_lfn(rng, task, end - randint(rng, 600, 86400)), None)
                for _ in range(randint(rng, 2, 40))
            ]
            step["input"] = [{"runs": [], "lfn": index} for index in tarballs]
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
        if failure is not None:
            step["status"] = failure.code
            step["errors"] = [self._error(failure.code, name, failure.message)]
        return [step], duration + rng.uniform(30, 120)

    def _error(self, code: int, step: str, message: str | None) -> dict:
        """The step's error for `code`: the code's drawn text, or a scenario's fixed one."""
        error = self.messages.error(code, step)
        if message is not None:
            error["details"] = message
        return error

    def _cmsrun_job(
        self, task: Task, site: str, end: int, failure: Failure | None, files: Files, storage: tuple[str, str, str]
    ) -> tuple[list[dict], float]:
        rng = self.rng
        jt = self.jobtype_model[task.jobtype]
        failing, code = (failure.step_class, failure.code) if failure is not None else (None, None)
        message = failure.message if failure is not None else None
        killed = failure is not None and failure.killed
        mean = max(jt["job_seconds"], 60.0)
        wall = rng.lognormvariate(math.log(mean) - 0.3, 0.8)
        if failing == "cmsRun" and code == 50664:
            wall = rng.uniform(1.0, 1.1) * _WALLCLOCK_LIMIT
        stage_secs = rng.uniform(3, 120)
        log_secs = rng.uniform(1, 15)
        t0 = int(end - log_secs - stage_secs - wall)
        first_inputs = inputs(rng, task, files, storage)
        steps = []
        n_cmsrun = task.cmsrun_steps
        fail_at = randint(rng, 1, n_cmsrun) if failing == "cmsRun" else None
        step_wall = wall / n_cmsrun
        cursor = t0
        events = task.events_per_job or randint(rng, 500, 20000)
        if task.jobtype == "Merge":
            events = randint(rng, 2000, 200000)
        for index in range(1, n_cmsrun + 1):
            name = f"cmsRun{index}"
            if fail_at is not None and index > fail_at:
                break
            fraction = rng.uniform(0.02, 0.95) if fail_at == index and code != 50664 else 1.0
            seconds = step_wall * fraction
            step = empty_step(name, site, int(cursor), int(cursor + seconds), 0)
            cursor += seconds
            if index == 1:
                step["input"] = first_inputs
            step["performance"] = performance(
                rng,
                jt,
                task.cores,
                seconds,
                events if fraction == 1.0 else int(events * fraction),
                code if fail_at == index else None,
            )
            if fail_at == index:
                self._fail_cmsrun(step, code, killed, message)
            elif index == n_cmsrun:
                step["output"] = outputs(rng, task, files, storage, events, site)
            steps.append(step)
        stage_name = "stageOut1" if task.jobtype != "Harvesting" else "upload1"
        if killed:
            kill = empty_step(PERFORMANCE_ERROR_STEP, {}, None, None, 1)
            kill["errors"] = [self.messages.performance_kill(code, f"cmsRun{fail_at}")]
            steps.append(kill)
        if fail_at is None:
            stage = empty_step(stage_name, site, int(cursor), int(cursor + stage_secs), 0)
            if failing in ("stageOut", "upload"):
                stage["status"] = code
                stage["errors"] = [self._error(code, stage_name, message)]
            steps.append(stage)
            cursor += stage_secs
        elif killed or rng.random() < self.shapes.missing_report:
            stage = empty_step(stage_name, site, None, None, 1)  # never ran: the agent found no report of it
            stage["errors"] = [self.messages.missing_report(stage_name)]
            steps.append(stage)
        steps.append(self._log_archive(task, site, end, log_secs, files, code if failing == "logArch" else None, message))
        return steps, wall + stage_secs + log_secs + rng.uniform(60, 600)

    def _fail_cmsrun(self, step: dict, code: int, killed: bool, message: str | None = None) -> None:
        """The failed cmsRun step's status and errors: its own error and maybe a log tail; a killed step only the tail."""
        rng = self.rng
        messages = self.messages
        step["status"] = 1 if killed else code
        if killed:
            step["errors"] = [messages.log_tail()]
            return
        errors = [self._error(code, step["name"], message)]
        if rng.random() < self.shapes.log_tail:
            errors.append(messages.log_tail())
        elif code < 50000 and rng.random() < 0.4:
            errors.append(messages.cmssw_tail(code))
        step["errors"] = errors
        if code in _SHORT_FAILURES and rng.random() < 0.6:
            step["performance"] = empty_performance()
            step["stop"] = step["start"] + randint(rng, 5, 120)

    def _log_archive(
        self, task: Task, site: str, end: int, log_secs: float, files: Files, code: int | None, message: str | None = None
    ) -> dict:
        rng = self.rng
        log = empty_step("logArch1", site, int(end - log_secs), end, 0)
        log_index = files.lfn(log_archive_lfn(rng, task, end), None)
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
        if code is not None:
            log["status"] = code
            log["errors"] = [self._error(code, "logArch1", message)]
        return log
