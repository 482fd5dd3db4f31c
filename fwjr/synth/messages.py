"""Error messages as the agent and CMSSW write them: several texts per failure, long log tails.

An error-signature feature groups messages by masking their variable parts (file names,
LFNs and PFNs, hosts, numbers, dates, hex addresses). So each exit code here has a few
message templates, in the style of the real texts of the WMArchive and WMAgent samples
(`reference/wmarchive`, `reference/wmagent_couchdb`), and every use fills them with other
files, hosts, run numbers and times: many texts, a few shapes. The follow-on errors (the
99999 log tail, the missing step report) and the texts of the agent's pseudo-steps
(JobKilled, PerformanceError, NoJobReport) live here too.
"""

from __future__ import annotations

import random
from datetime import datetime, timezone
from string import Formatter

from fwjr.synth.catalogue import GLOBAL_REDIRECTOR, Task, site_storage
from fwjr.synth.draws import guid, pick, randint

FOLLOW_ON_CODE = 99999
MISSING_REPORT_TYPE = "ReportManipulatingError"
LOG_TAIL_TYPE = "ErrorLoggingAddition"
PERFORMANCE_KILL_TYPE = "PerformanceKill"
JOB_KILLED_TYPE = "JobKilled"
NO_JOB_REPORT_TYPE = "NoJobReport"
NO_ERROR_TEXT = "Error return without specification."

_FILE_OPEN = frozenset({8020, 8028, 85, 92})
_FILE_READ = frozenset({8021, 8022})
_SIGNALS = frozenset({11, 134, 137, 139})
_WRAPPER_LIMITS = {
    50660: ("PSS", "MB", 16000),
    50661: ("VSize", "MB", 40000),
    50662: ("Disk", "GB", 40),
    50664: ("WallTime", "seconds", 172800),
    50665: ("IdleTime", "seconds", 7200),
    50669: ("CpuTime", "seconds", 345600),
}
_DATA_SERVERS = (
    "xrootd-cms.infn.it:1094",
    "cmsxrootd.fnal.gov:1094",
    "eoscms-srv-b3.cern.ch:1095",
    "cms-xrd-transit.cern.ch:1094",
    "xrootd.ba.infn.it:1094",
    "cmsdcadisk01.fnal.gov:1094",
    "dcache-cms-xrootd.desy.de:1094",
    "xrootd.cmsaf.mit.edu:1094",
)
# (path, module class, module label) where a CMSSW exception happens; the first ones most often
_PLACES = (
    ("reconstruction_step", "TrackProducer", "generalTracks"),
    ("reconstruction_step", "TrackProducer", "generalTracks"),
    ("MINIAODSIMoutput_step", "PoolOutputModule", "MINIAODSIMoutput"),
    ("digitisation_step", "PreMixingModule", "mixData"),
)
_MISSING_PRODUCTS = (
    ("edm::View<reco::Jet>", "ak4PFJetsCHS", "RECO"),
    ("std::vector<reco::Track>", "generalTracks", "RECO"),
    ("edm::TriggerResults", "TriggerResults", "HLT"),
)
_MODULE_LABELS = ("generalTracks", "MINIAODSIMoutput", "mixData", "slimmedJets", "csc2DRecHits")
# the frames CMSSW's signal handler always prints first: the same head for every crash of a kind
_HANDLER_FRAMES = (
    "__GI___wait4 (pid=<optimized out>, stat_loc=0x0, options=<optimized out>, usage=0x0) at ../sysdeps/unix/sysv/linux/wait4.c:30",
    "edm::service::InitRootHandlers::stacktraceFromThread() () from {lib}/pluginFWCoreServicesPlugins.so",
    "sig_dostack_then_abort () from {lib}/pluginFWCoreServicesPlugins.so",
    "<signal handler called>",
)
_BRANCHES = ("recoGenParticles_genParticles__HLT.", "EventAuxiliary", "recoTracks_generalTracks__RECO.", "edmTriggerResults_TriggerResults__HLT.")
_FRAMES = (
    "edm::service::InitRootHandlers::stacktraceFromThread()",
    "sig_dostack_then_abort",
    "<signal handler called>",
    "TBufferFile::ReadClassBuffer(TClass const*, void*, TClass const*)",
    "TBranchElement::GetEntry(long long, int)",
    "edm::RootTree::getEntry(TBranch*, long long) const",
    "edm::RootDelayedReader::getProduct_(edm::BranchID const&, edm::EDProductGetter const*)",
    "reco::TrackBase::pt() const",
    "PATJetProducer::produce(edm::Event&, edm::EventSetup const&)",
    "edm::stream::EDProducerAdaptorBase::doEvent(edm::EventTransitionInfo const&, edm::ActivityRegistry*, edm::ModuleCallingContext const*)",
    "edm::WorkerT<edm::stream::EDProducerAdaptorBase>::implDo(edm::EventTransitionInfo const&, edm::ModuleCallingContext const*)",
    "tbb::detail::r1::task_dispatcher::local_wait_for_all<false, tbb::detail::r1::outermost_worker_waiter>",
    "edm::WaitingTaskList::announce()",
    "clone3 ()",
)
_LIBS = ("libFWCoreFramework.so", "libIOPoolInput.so", "libDataFormatsTrackReco.so", "pluginPhysicsToolsPatAlgosPlugins.so", "libtbb.so.12", "libCore.so", "libRIO.so")
_MSG_LINES = (
    "%MSG-w XrdAdaptorInternal:  file_open {date} {time} CET Run: {run} Event: {event}\nFailed to open file at URL root://{server}//store/{area}/{guid}.root?tried=+{retries}.",
    "%MSG-w XrdAdaptor:  file_open {date} {time} CET pre-events\nData is served from {server} instead of original site {domain}",
    "%MSG-e MemoryCheck:  source {date} {time} CET Run: {run} Event: {event}\nMemoryCheck: event : VSIZE {vsize} {delta} RSS {rss} {delta}",
    "Begin processing the {n}th record. Run {run}, Event {event}, LumiSection {lumi} on stream {stream} at {date} {time}.{ms} CET",
    "%MSG-w FastTimerService:  PostEndRun {date} {time} CET Run: {run}\nFastTimerService: module {label} took {ms} ms",
    "%MSG-i ThreadStreamSetup:  (NoModuleName) {date} {time} pre-events\nsetting # threads {threads}\nsetting # streams {threads}",
)
# each MessageLogger template with the fields it names, so a line draws only what it shows
_MSG_FIELDS = tuple(
    (template, tuple(dict.fromkeys(name for _, name, _, _ in Formatter().parse(template) if name)))
    for template in _MSG_LINES
)
_JOB_STATES = ("Unknown", "Running", "Idle", "Held", "Removed")
_CONDOR_EVENTS = (
    "Job was evicted.",
    "Job was aborted by the user.",
    "Job disconnected, attempting to reconnect",
    "Job was held. Error from slot1_{slot}@{wn}: SHADOW at {ip} failed to send file(s)",
    "Job terminated. (1) Normal termination (return value {rc})",
)


def _stamp(ts: int) -> tuple[str, str]:
    """(date, time) as CMSSW's MessageLogger prints them: 20-Nov-2026, 10:11:12."""
    moment = datetime.fromtimestamp(ts, tz=timezone.utc)
    return moment.strftime("%d-%b-%Y"), moment.strftime("%H:%M:%S")


class Messages:
    """Makes the errors of one job at a time; `job()` says whose, the other methods make texts."""

    task: Task  # set by job() before any text is made

    def __init__(self, rng: random.Random, code_text: dict[str, str]) -> None:
        self.rng = rng
        self.code_text = code_text
        self.site = ""
        self.ts = 0
        self.job_id = 0
        self.retry = 0
        self.agent_ver = ""

    def job(self, task: Task, site: str, ts: int, job_id: int, retry: int, agent_ver: str) -> None:
        """Whose errors the next texts describe."""
        self.task, self.site, self.ts = task, site, ts
        self.job_id, self.retry, self.agent_ver = job_id, retry, agent_ver

    # ---- pieces of texts

    def _text(self, code: int) -> str:
        return self.code_text.get(str(code), NO_ERROR_TEXT)

    def _lfn(self, tier: str = "RAW") -> str:
        rng = self.rng
        wf = self.task.workflow
        if wf.kind == "data":
            run = randint(rng, 380000, 399999)
            return f"/store/data/{wf.era}/{wf.primary}/{tier}/v1/000/{run // 1000:03d}/{run % 1000:03d}/00000/{guid(rng)}.root"
        return f"/store/mc/{wf.campaign}/{wf.primary}/{tier}/{wf.processing_string}-v{wf.version}/{randint(rng, 10000, 99999)}/{guid(rng)}.root"

    def _door(self) -> str:
        return site_storage(self.site or "T2_CH_CERN")[0]

    def _event(self) -> str:
        rng = self.rng
        return (
            f"Event run: {randint(rng, 380000, 399999)} lumi: {randint(rng, 1, 3000)} "
            f"event: {randint(rng, 1, 2**31)} stream: {randint(rng, 0, 7)}"
        )

    def _job_cache(self) -> str:
        task = self.task
        parts = "/".join(task.path.split("/")[2:])
        return (
            f"/data/srv/wmagent/{self.agent_ver}/install/wmagentpy3/JobCreator/JobCache/{task.workflow.name}/"
            f"{parts}/JobCollection_{self.job_id // 50}_0/job_{self.job_id}"
        )

    def _cmsrun_args(self, step: str) -> str:
        wf = self.task.workflow
        return (
            f"{{'arguments': ['/bin/bash', '/srv/job/WMTaskSpace/{step}/{step}-main.sh', '', 'el8_amd64_gcc12', "
            f"'scramv1', 'CMSSW', '{wf.release}', 'FrameworkJobReport.xml', 'cmsRun', 'PSet.py', '']}}"
        )

    def log_lines(self, count: int) -> str:
        """`count` lines of CMSSW's MessageLogger output with their own times, runs and servers."""
        rng = self.rng
        date, clock = _stamp(self.ts)
        wf = self.task.workflow
        fixed = {
            "date": date,
            "area": f"{'data' if wf.kind == 'data' else 'mc'}/{wf.era}/{wf.primary}",
            "domain": site_storage(self.site or "T2_CH_CERN")[2],
        }
        drawn = {
            "time": lambda: f"{clock[:6]}{randint(rng, 0, 59):02d}",
            "run": lambda: randint(rng, 380000, 399999),
            "event": lambda: randint(rng, 1, 2**31),
            "lumi": lambda: randint(rng, 1, 3000),
            "stream": lambda: randint(rng, 0, 7),
            "n": lambda: randint(rng, 1, 20000),
            "ms": lambda: randint(rng, 0, 999),
            "server": lambda: pick(rng, _DATA_SERVERS),
            "guid": lambda: guid(rng),
            "retries": lambda: randint(rng, 1, 5),
            "vsize": lambda: round(rng.uniform(3000, 40000), 3),
            "rss": lambda: round(rng.uniform(1500, 20000), 3),
            "delta": lambda: round(rng.uniform(0, 200), 3),
            "label": lambda: pick(rng, _MODULE_LABELS),
            "threads": lambda: pick(rng, (1, 4, 8)),
        }
        lines = []
        for _ in range(count):
            template, names = pick(rng, _MSG_FIELDS)
            lines.append(template.format(**{name: fixed[name] if name in fixed else drawn[name]() for name in names}))
        return "\n".join(lines)

    def _stack(self, frames: int, crashed: bool) -> str:
        """One thread's call stack; the crashed thread starts with the signal handler's frames."""
        rng = self.rng
        lib = f"/cvmfs/cms.cern.ch/el8_amd64_gcc12/cms/cmssw/{self.task.workflow.release}/lib/el8_amd64_gcc12"
        out = [f"Thread {randint(rng, 1, 12)} (Thread 0x7f{rng.getrandbits(40):010x} (LWP {randint(rng, 1000, 4000000)}) \"cmsRun\"):"]
        head = [frame.format(lib=lib) for frame in _HANDLER_FRAMES] if crashed else []
        for index in range(len(head) + frames):
            frame = head[index] if index < len(head) else f"{pick(rng, _FRAMES)} () from {lib}/{pick(rng, _LIBS)}"
            out.append(f"#{index}  0x00007f{rng.getrandbits(40):010x} in {frame}")
        return "\n".join(out)

    def _place(self) -> tuple[str, str, str]:
        return pick(self.rng, _PLACES)

    # ---- the step's own error

    def error(self, code: int, step: str) -> dict:
        """The error a step reports for `code`: one of the code family's texts, freshly filled."""
        kind, details = self._details(code, step)
        return {"type": kind, "exitCode": code, "details": details}

    def _details(self, code: int, step: str) -> tuple[str, str]:
        rng = self.rng
        text = self._text(code)
        if code in _FILE_OPEN:
            return "Fatal Exception", self._file_open(code)
        if code in _FILE_READ:
            return "Fatal Exception", self._file_read(code)
        if 8000 <= code < 9000 or code == 66:
            return "Fatal Exception", self._cms_exception(code, text)
        if code in _SIGNALS:
            return "CMSSWStepFailure", self._signal(code, step)
        if code in _WRAPPER_LIMITS:
            return "PerformanceError", self._limit(code, step, text)
        if code == 60450:
            return "WMAgentError", f"{text}\n Step {step}: no file written by output modules of {self.task.path}, job {self.job_id}-{self.retry}"
        if 60300 <= code < 60500:
            return "StageOutFailure", self._stage_out(code, step, text)
        if 71300 <= code < 71310:
            return JOB_KILLED_TYPE, f"{text}\n Job last known status was: {pick(rng, _JOB_STATES)}"
        if 71100 <= code < 71200:
            when = datetime.fromtimestamp(self.ts - randint(rng, 0, 86400), tz=timezone.utc)
            return "SubmitFailed", f"{text}\n Job id: {self.job_id}, retry {self.retry}, last submission attempt {when:%Y-%m-%d %H:%M:%S}"
        if code == 84:
            return "99997", f"jobReport with no steps: {self._job_cache()}/Report.{self.retry}.pkl "
        if code == 99109:
            return "WMAgentStepExecutionError", self._traceback(code, text)
        if code == 50115:
            return "BadFWJRXML", self._bad_report(step, text)
        if code in (73, 10040):
            return "CMSSWStepFailure", self._setup_failure(code, step, text)
        if code == 70318:
            return "DQMUploadFailure", self._dqm_upload(text)
        return "WMAgentError", (
            f"{text}\n Step {step} of job {self.job_id}-{self.retry} ended at "
            f"{datetime.fromtimestamp(self.ts - randint(rng, 0, 3600), tz=timezone.utc):%Y-%m-%d %H:%M:%S} "
            f"on {self._worker()}"
        )

    def _worker(self) -> str:
        rng = self.rng
        return f"{pick(rng, ('cmswn', 'wn', 'node', 'batch'))}{randint(rng, 1, 4999):04d}.{site_storage(self.site or 'T2_CH_CERN')[2]}"

    def _file_open(self, code: int) -> str:
        rng = self.rng
        category = "FallbackFileOpenError" if code == 8028 else "FileOpenError"
        lfn = self._lfn()
        server = pick(rng, _DATA_SERVERS)
        xrdcl = (
            f"XrdCl::File::Open(name='root://{server}/{lfn}', flags=0x10, permissions=0660) => error "
            f"'{pick(rng, ('[ERROR] Server responded with an error: [3011] No servers are available to read the file.', '[ERROR] Operation expired', '[FATAL] Auth failed: No protocols left to try'))}' "
            f"(errno={pick(rng, (3011, 0, 3010))}, code={pick(rng, (400, 206, 204))})"
        )
        shape = randint(rng, 0, 2)
        if shape == 0:
            return (
                f"An exception of category '{category}' occurred while\n   [0] Constructing the EventProcessor\n"
                f"   [1] Constructing input source of type PoolSource\n   [2] Calling RootInputFileSequence::initTheFile()\n"
                f"   [3] Calling StorageFactory::open()\n   [4] Calling XrdFile::open()\nException Message:\n"
                f"Failed to open the file 'root://{self._door()}/{lfn}'\n   Additional Info:\n      [a] {xrdcl}\n"
                f"      [b] Last URL tried: root://{server}/{lfn}?tried=+{randint(rng, 1, 9)}{server.split('.')[0]}\n"
            )
        if shape == 1:
            return (
                f"An exception of category '{category}' occurred while\n   [0] Calling RootInputFileSequence::initTheFile()\n"
                f"Exception Message:\n   Additional Info:\n      [a] Input file root://{self._door()}/{lfn} could not be opened.\n"
                f"      [b] Fallback Input file {GLOBAL_REDIRECTOR}{lfn} also could not be opened.\n"
                f"      [c] Original exception info is above; fallback exception info is below.\n      [d] {xrdcl}\n"
            )
        mix = f"/store/mc/Neutrino_E-10_gun/PREMIX/{self.task.workflow.campaign}-v1/{randint(rng, 10000, 99999)}/{guid(rng)}.root"
        return (
            f"An exception of category '{category}' occurred while\n   [0] Processing  {self._event()}\n"
            f"   [1] Running path 'digitisation_step'\n   [2] Calling method for module PreMixingModule/'mixData'\n"
            f"   [3] Calling RootFileSequenceBase::initTheFile()\n   [4] Calling XrdFile::open()\nException Message:\n"
            f"Failed to open the file '{GLOBAL_REDIRECTOR}{mix}'\n   Additional Info:\n      [a] {xrdcl}\n"
            f"      [b] No additional data servers were found.\n"
        )

    def _file_read(self, code: int) -> str:
        rng = self.rng
        lfn = self._lfn()
        server = pick(rng, _DATA_SERVERS)
        if code == 8022 or rng.random() < 0.3:
            return (
                f"An exception of category 'FatalRootError' occurred while\n   [0] Processing global begin LuminosityBlock run: "
                f"{randint(rng, 380000, 399999)} luminosityBlock: {randint(rng, 1, 3000)}\n   [1] Reading branch LuminosityBlockAuxiliary\n"
                f"   Additional Info:\n      [a] Fatal Root Error: @SUB=TBasket::Streamer\nThe value of fNbytes is incorrect "
                f"({-randint(rng, 10**6, 2**31)}) ; trying to recover by setting it to zero\n      [b] File: root://{server}/{lfn}\n"
            )
        if rng.random() < 0.4:
            return (
                f"Fatal Root Error: @SUB=TFile::ReadBuffer\nerror reading all requested bytes from file root://{server}/{lfn}, "
                f"got {randint(rng, 0, 300)} of {randint(rng, 1000, 90000)}\n"
            )
        path, kind, label = self._place()
        return (
            f"An exception of category 'FileReadError' occurred while\n   [0] Processing  {self._event()}\n"
            f"   [1] Running path '{path}'\n   [2] Prefetching for module {kind}/'{label}'\n"
            f"   [3] While reading from source {pick(rng, _BRANCHES)}\n   [4] Rethrowing an exception that happened on a different thread.\n"
            f"Exception Message:\nXrdAdaptor::ClientRequest::HandleResponse() failure while running connection recovery.\n"
            f"   Additional Info:\n      [a] Original error: '[ERROR] Operation expired' (errno=0, code=206, source={server}).\n"
            f"      [b] Original source of error: {server}\n      [c] File: root://{server}/{lfn} at offset 0x{rng.getrandbits(36):x}\n"
        )

    def _cms_exception(self, code: int, text: str) -> str:
        rng = self.rng
        path, kind, label = self._place()
        head = f"   [0] Processing  {self._event()}\n   [1] Running path '{path}'\n   [2] Calling method for module {kind}/'{label}'\n"
        if code == 8004:
            return (
                f"An exception of category 'BadAlloc' occurred while\n{head}Exception Message:\nA std::bad_alloc exception was thrown.\n"
                f"The job has probably exhausted the virtual memory available to the process (VSIZE {randint(rng, 20000, 60000)} MB).\n"
            )
        if code in (8030, 8031):
            limit = 16000 if code == 8031 else 40000
            what = "RSS" if code == 8031 else "VSize"
            return (
                f"An exception of category 'ExceededResource{what}' occurred while\n{head}Exception Message:\n"
                f"{what}: {round(limit * rng.uniform(1.001, 1.3), 1)} Mbytes exceeds limit {limit} Mbytes\n"
            )
        if code == 8006:
            return (
                f"An exception of category 'ProductNotFound' occurred while\n{head}Exception Message:\n"
                "Principal::getByToken: Found zero products matching all criteria\nLooking for type: {}\n"
                "Looking for module label: {}\nLooking for productInstanceName: \nLooking for process: {}\n".format(
                    *pick(rng, _MISSING_PRODUCTS)
                )
            )
        if code == 66:
            size = randint(rng, 0, 64)
            return (
                f"An exception of category 'StdException' occurred while\n{head}Exception Message:\nA std::exception was thrown.\n"
                f"vector::_M_range_check: __n (which is {size + randint(rng, 0, 9)}) >= this->size() (which is {size})\n"
            )
        shape = randint(rng, 0, 3)
        if shape == 0:
            return (
                f"An exception of category 'ExternalLHEProducer' occurred while\n   [0] Processing run: {randint(rng, 1, 9)}\n"
                f"   [1] Running path 'lhe_step'\n   [2] Calling beginRun for module ExternalLHEProducer/'externalLHEProducer'\n"
                f"Exception Message:\nChild failed with exit code {pick(rng, (1, 2, 127, 139))}.\n"
            )
        if shape == 1:
            return "Failed badly."
        if shape == 2:
            return (
                f"An exception of category 'LogicError' occurred while\n{head}Exception Message:\n"
                f"Invalid object pointer 0x{rng.getrandbits(44):x} for {label}: the product was deleted at event {randint(rng, 1, 2**31)}\n"
            )
        return (
            f"An exception of category 'Configuration' occurred while\n   [0] Constructing the EventProcessor\n"
            f"   [1] Constructing module: class={kind} label='{label}'\nException Message:\n"
            f"MissingParameter: Parameter '{pick(rng, ('src', 'crossSection', 'maxEventsToPrint'))}' not found.\n({text})\n"
        )

    def _signal(self, code: int, step: str) -> str:
        rng = self.rng
        if code == 137 or rng.random() < 0.3:
            return f"Error running cmsRun\n{self._cmsrun_args(step)}\nReturn code: {code}\n"
        signal = {11: "segmentation violation", 139: "segmentation violation", 134: "abort signal"}[code]
        threads = "\n\n".join(self._stack(randint(rng, 8, 30), index == 0) for index in range(randint(rng, 1, 4)))
        return (
            f"A fatal system signal has occurred: {signal}\nThe following is the call stack containing the origin of the signal.\n\n"
            f"{threads}\n\nCurrent Modules:\n\nModule: {' '.join(self._place()[1:])} (crashed)\n\n"
            f"A fatal system signal has occurred: {signal}\n"
        )

    def _limit(self, code: int, step: str, text: str) -> str:
        rng = self.rng
        name, unit, limit = _WRAPPER_LIMITS[code]
        value = round(limit * rng.uniform(1.001, 1.25), 2 if unit != "seconds" else None)
        if rng.random() < 0.5:
            return (
                f"Error in CMSSW step {step}\nNumber of Cores: {self.task.cores}\n"
                f"Job has exceeded max{name}: {limit} {unit}\nJob has {name}: {value} {unit}\n"
            )
        date, clock = _stamp(self.ts)
        return f"{text}\nPeak {name} {value} {unit} over limit {limit} {unit} on {self._worker()} at {date} {clock}\nJob was killed by the watchdog of /srv/job/WMTaskSpace/{step}"

    def _stage_out(self, code: int, step: str, text: str) -> str:
        rng = self.rng
        storage = site_storage(self.site or "T2_CH_CERN")
        wf = self.task.workflow
        log = step.startswith(("logArch", "logCollect"))
        lfn = (
            f"/store/unmerged/logs/prod/{wf.name}/{guid(rng).lower()}-{self.job_id}-{self.retry}-logArchive.tar.gz"
            if log
            else f"/store/unmerged/{wf.era}/{wf.primary}/{pick(rng, ('AODSIM', 'MINIAODSIM', 'NANOAOD', 'GEN-SIM'))}/{wf.processing_string}-v{wf.version}/00000/{guid(rng)}.root"
        )
        pfn = f"{pick(rng, ('davs', 'root', 'srm'))}://{storage[0]}/{storage[1]}{lfn}"
        date = datetime.fromtimestamp(self.ts - randint(rng, 0, 600), tz=timezone.utc)
        failure = pick(
            rng,
            (
                f"gfal-copy error: 110 (Connection timed out) - DESTINATION OVERWRITE Timeout of {pick(rng, (600, 1800, 3600))} seconds exceeded",
                f"gfal-copy error: 13 (Permission denied) - TRANSFER ERROR: Copy failed. Last attempt: HTTP {pick(rng, (401, 403))} : Permission refused",
                f"gfal-copy error: 70 (Communication error on send) - TRANSFER ERROR: Copy failed (streamed). Last attempt: HTTP 500 : Unexpected server error: 500",
                f"Checksum mismatch: source adler32 0x{rng.getrandbits(32):08x} != destination adler32 0x{rng.getrandbits(32):08x}",
                f"gfal-copy error: 28 (No space left on device) - {storage[0]}: quota exceeded by {randint(rng, 1, 900)} GB",
            ),
        )
        return (
            f"ErrorCode : {code}\nModuleName : WMCore.Storage.Backends.GFAL2Impl\nMethodName : doTransfer\n"
            f"ErrorType : GeneralStageOutFailure\nErrorMessage : {text} Command exited non-zero, ExitCode:{pick(rng, (1, 2, 70, 110))}\n"
            f"Output: stdout: {date:%Y-%m-%d %H:%M:%S} UTC\nCopying {randint(rng, 1, 9000)} MB file://{'/srv/job/WMTaskSpace/' + step} to {pfn}\n"
            f"{failure}\nstderr: \nErrorDetails : \n"
        )

    def _traceback(self, code: int, text: str) -> str:
        rng = self.rng
        raised = pick(
            rng,
            (
                f'raise WMExecutionFailure({code}, "StepExecutionError", msg)',
                f"KeyError: '{pick(rng, ('pfn', 'lfn', 'guid'))}'",
                f"OSError: [Errno {pick(rng, (2, 5, 28, 122))}] {pick(rng, ('No such file or directory', 'Input/output error', 'No space left on device'))}: '/srv/job/WMTaskSpace/{pick(rng, ('cmsRun1', 'stageOut1', 'logArch1'))}/Report.pkl'",
            ),
        )
        return (
            f'{text}\nTraceback (most recent call last):\n  File "/srv/job/WMCore.zip/WMCore/WMSpec/Steps/Executors/'
            f'{pick(rng, ("CMSSW", "StageOut", "LogArchive"))}.py", line {randint(rng, 120, 640)}, in execute\n'
            f'  File "/srv/job/WMCore.zip/WMCore/Storage/StageOutMgr.py", line {randint(rng, 100, 400)}, in __call__\n    {raised}\n'
        )

    def _bad_report(self, step: str, text: str) -> str:
        rng = self.rng
        problem = pick(
            rng,
            (
                "no element found: line 1, column 0",
                f"not well-formed (invalid token): line {randint(rng, 2, 9000)}, column {randint(rng, 0, 120)}",
                "No such file or directory",
            ),
        )
        return f"{text}\nError in CMSSW step {step}\nNumber of Cores: {self.task.cores}\nFramework job report /srv/job/WMTaskSpace/{step}/FrameworkJobReport.xml: {problem}\n"

    def _setup_failure(self, code: int, step: str, text: str) -> str:
        rng = self.rng
        release = self.task.workflow.release
        if code == 73:
            reason = pick(
                rng,
                (
                    f"ERROR: Unable to find release area for \"CMSSW\" version \"{release}\" for arch el8_amd64_gcc12.",
                    f"SCRAM fatal: Project area /srv/job/WMTaskSpace/{step}/{release} is not writeable (quota exceeded, {randint(rng, 1, 99)} files)",
                    f"/cvmfs/cms.cern.ch/cmsset_default.sh: line {randint(rng, 10, 90)}: scramv1: command not found",
                ),
            )
            return f"{text}\n{reason}\n"
        return f"{text}\n{self._traceback(code, 'Traceback from the PSet tweak:')}"

    def _dqm_upload(self, text: str) -> str:
        rng = self.rng
        wf = self.task.workflow
        run = randint(rng, 380000, 399999)
        return (
            f"{text}\nHTTP Error {pick(rng, (500, 502, 503))}: {pick(rng, ('Bad Gateway', 'Service Unavailable', 'Internal Server Error'))}\n"
            f"URL: https://cmsweb.cern.ch/dqm/offline/data/put\nFile: /srv/job/WMTaskSpace/upload1/DQM_V0001_R000{run}__{wf.primary}__{wf.era}-{wf.processing_string}__DQMIO.root "
            f"({randint(rng, 10**5, 10**9)} bytes)\n"
        )

    # ---- follow-on errors and the agent's pseudo-steps

    def log_tail(self) -> dict:
        """The 99999 error that adds CMSSW's last output after a cmsRun failure: a few KB, some much longer."""
        rng = self.rng
        lines = randint(rng, 20, 60) if rng.random() < 0.95 else randint(rng, 150, 300)
        half = lines // 2
        details = (
            f"Adding last {half} lines of CMSSW stdout:\n{self.log_lines(half)}\n"
            f"Adding last {lines - half} lines of CMSSW stderr:\n{self.log_lines(lines - half)}\n"
        )
        return {"type": LOG_TAIL_TYPE, "exitCode": FOLLOW_ON_CODE, "details": details}

    def cmssw_tail(self, code: int) -> dict:
        """The older wrapper's second error: CMSSW's last stderr and stdout lines under the step's code."""
        rng = self.rng
        lines = 10 if rng.random() < 0.97 else randint(rng, 80, 220)
        details = (
            f"Exit {code}: CMSExeption Exception from cmsRun {self.task.path}\n Adding last ten lines of CMSSW stderr:\n"
            f"{self.log_lines(lines)}\n\n Adding last ten lines of CMSSW stdout:\nBegin processing the {randint(rng, 1, 5000)}th record.\n"
        )
        return {"type": "CMSExeption", "exitCode": code, "details": details}

    @staticmethod
    def missing_report(step: str) -> dict:
        """The error of a step that never ran because the step before it failed."""
        return {"type": MISSING_REPORT_TYPE, "exitCode": FOLLOW_ON_CODE, "details": f"Could not find report file for step {step}!"}

    def performance_kill(self, code: int, step: str) -> dict:
        """The agent's watchdog killing the job for going over a limit (the PerformanceError pseudo-step)."""
        rng = self.rng
        name, unit, limit = _WRAPPER_LIMITS[code]
        value = round(limit * rng.uniform(1.001, 1.2), 2 if unit != "seconds" else None)
        details = (
            f"Error in CMSSW step {step}\nNumber of Cores: {self.task.cores}\n"
            f"Job has exceeded max{name}: {limit} {unit}\nJob has {name}: {value} {unit}\n"
        )
        return {"type": PERFORMANCE_KILL_TYPE, "exitCode": code, "details": details}

    def job_killed(self, code: int) -> dict:
        """The agent's note on a job it killed (the JobKilled pseudo-step)."""
        return self.error(code, JOB_KILLED_TYPE)

    def no_job_report(self, code: int) -> dict:
        """The agent's note on a job whose report never came back (the NoJobReport pseudo-step)."""
        rng = self.rng
        cache = self._job_cache()
        when = datetime.fromtimestamp(self.ts - randint(rng, 0, 7200), tz=timezone.utc)
        event = pick(rng, _CONDOR_EVENTS).format(
            slot=randint(rng, 1, 64), wn=self._worker(), ip=f"<{randint(rng, 10, 188)}.{randint(rng, 0, 255)}.{randint(rng, 0, 255)}.{randint(rng, 1, 254)}:{randint(rng, 9600, 9700)}>", rc=randint(rng, 1, 255)
        )
        if code == 99305:
            details = f"Report file has zero size: {cache}/Report.{self.retry}.pkl\nLast condor event at {when:%m/%d/%y %H:%M:%S}: {event}\n"
        else:
            details = (
                f"Could not find jobReport\nCondor log: {cache}/condor.{randint(rng, 10**6, 10**8)}.{randint(rng, 0, 99)}.log\n"
                f"Last condor event at {when:%m/%d/%y %H:%M:%S}: {event}\n"
            )
        return {"type": NO_JOB_REPORT_TYPE, "exitCode": code, "details": details}
