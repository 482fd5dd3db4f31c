"""Every real FWJR in the WMArchive reference set, merged, checked against values read off the document by hand.

The expected numbers below were worked out by reading each JSON file (step start/stop,
performance blocks, outputs), not by running the merge; where a value is a sum or a
ratio the arithmetic is written out so a reviewer can check it against the file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fwjr.model import Job, Rejection
from fwjr.reader import read_jobs
from tests.fixtures.paths import WMARCHIVE

REFERENCE = WMARCHIVE
SAMPLES = REFERENCE / "fwjr_samples"
LEGACY = REFERENCE / "legacy_2015_2016"
SCHEMA_SAMPLE = REFERENCE / "schemas" / "fwjr_prod_2016-03_sample.json"
COUCHDB = REFERENCE.parent / "wmagent_couchdb"

HARVEST_WF = "sryu_DQMHarvesting_Sryu_reqmgr2_160318_050142_4405"
MC_EFF_WF = "sryu_MonteCarlo_eff_Sryu_reqmgr2_160317_161133_1935"
SKIM_WF = "sryu_ReRecoSkim_Sryu_reqmgr2_160318_050217_7302"
REDIGI_WF = "sryu_ReDigi_3steps_Sryu_reqmgr2_160318_050052_982"
TASKCHAIN_WF = "sryu_TaskChain_Data_wq_testt_160204_061048_5587"

# Raw 2023 agent report: steps cmsRun1, stageOut1, logArch1 with startTime/stopTime floats,
# truncated to whole seconds as the archive schema stores them.
RAW_WALL = (
    (1692718965 - 1692712660)
    + (1692718966 - 1692718965)
    + (1692718966 - 1692718966)
)

# file -> expected fields; "metrics" lists a few metrics with their combined values,
# "absent" lists metrics whose only values in the document mean "no value".
EXPECTED: dict[Path, dict] = {
    SAMPLES / "HarvestSuccessFwjr.json": dict(
        ts=1458276069, workflow=HARVEST_WF, task="EndOfRunDQMHarvest", site="T2_CH_CERN",
        exit_code=0, exit_step="", jobstate="success", failed=False, acquisition_era="Integ_Test",
        jobtype="Harvesting", fwjr_id="827-0", host="mac-122010.local",
        wall_time=3 + 389 + 2,  # logArch1 + cmsRun1 + upload1
        metrics={"TotalJobCPU": 264.383, "readTotalMB": 42.7638, "MinEventTime": 1000000.0, "TotalLoopCPU": 252.842},
        absent=("AvgEventTime", "events"),  # AvgEventTime is -1; outputs write 0 / null events
        cpu_efficiency=264.383 / 394,
    ),
    SAMPLES / "LogCollectFailedFwjr.json": dict(
        ts=1458295736, workflow="sryu_MonteCarlo_PhEDEx_Sryu_reqmgr2_160318_050123_7744",
        task="ProductionLHEoutputMergeLogCollect", site="T1_US_FNAL_Disk",
        exit_code=0, exit_step="", jobstate="jobfailed", failed=True, acquisition_era="",
        jobtype="LogCollect", fwjr_id="3754-0", host="mac-122010.local",
        wall_time=10,  # stop is null: WMTiming.WMTotalWallClockTime
        metrics={"wasted_core_hours": 10 / 3600, "core_hours": 10 / 3600},
        absent=("TotalJobCPU", "cpu_hours"),
        cpu_efficiency=None,
        log_archive="/store/unmerged/logs/prod/2016/3/18/sryu_MonteCarlo_PhEDEx_Sryu_reqmgr2_160318_050123_7744/"
        "Production/ProductionMergeLHEoutput/0000/0/29392490-ecec-11e5-b4f2-02163e00efd5-1-0-logArchive.tar.gz",
    ),
    SAMPLES / "LogCollectSuccessFwjr.json": dict(
        ts=1458276675, workflow=HARVEST_WF, task="EndOfRunDQMHarvestLogCollect", site="T2_CH_CERN",
        exit_code=0, exit_step="", jobstate="success", failed=False, acquisition_era="",
        jobtype="LogCollect", fwjr_id="1411-0", host="mac-122010.local",
        wall_time=1458276604 - 1458276586,
        metrics={"wasted_core_hours": 0.0, "cores": 1.0},
        absent=("TotalJobCPU",),
        cpu_efficiency=None,
    ),
    SAMPLES / "MergeFailedFwjr.json": dict(
        ts=1458291090, workflow=SKIM_WF, task="DataProcessingMergeRECOoutput", site="",  # site is {}
        exit_code=71304, exit_step="JobKilled", jobstate="jobfailed", failed=True, acquisition_era="",
        jobtype="Merge", fwjr_id="3427-0", host="mac-122010.local",
        wall_time=10,
        metrics={"wasted_core_hours": 10 / 3600},
        absent=("TotalJobCPU",),
        cpu_efficiency=None,
    ),
    SAMPLES / "MergeSuccessFwjr.json": dict(
        ts=1458244013, workflow=MC_EFF_WF, task="ProductionMergeRAWSIMoutput", site="T2_CH_CERN",
        exit_code=0, exit_step="", jobstate="success", failed=False, acquisition_era="Integ_Test",
        jobtype="Merge", fwjr_id="21-0", host="mac-122010.local",
        wall_time=3 + 1 + 48,  # stageOut1 + logArch1 + cmsRun1
        metrics={"TotalJobCPU": 6.31004, "events": 240, "PeakValueRss": 173.586, "writeTotalSecs": 844421.0,
                 "cpu_hours": 6.31004 / 3600},
        absent=(),
        cpu_efficiency=6.31004 / 52,
    ),
    SAMPLES / "ProcessingFailedFwjr.json": dict(
        ts=1458291472, workflow=REDIGI_WF, task="StepThreeProc", site="",
        exit_code=84, exit_step="cmsRun1", jobstate="jobfailed", failed=True, acquisition_era="",
        jobtype="Processing", fwjr_id="3451-0", host="mac-122010.local",
        wall_time=10,
        metrics={"core_hours": 10 / 3600},
        absent=("TotalJobCPU",),
        cpu_efficiency=None,
    ),
    SAMPLES / "ProcessingSuccessFwjr.json": dict(
        ts=1458278919, workflow=REDIGI_WF, task="StepOneProc", site="T2_CH_CERN",
        exit_code=0, exit_step="", jobstate="success", failed=False, acquisition_era="Integ_Test",
        jobtype="Processing", fwjr_id="1004-0", host="mac-122010.local",
        wall_time=3 + 1 + 1661,
        metrics={"TotalJobCPU": 1263.55, "events": 86, "PeakValueVsize": 1963.69, "AvgEventCPU": 14.5131,
                 "MinEventCPU": 8.70768},
        absent=(),
        cpu_efficiency=1263.55 / 1665,
    ),
    SAMPLES / "ProductionFailedFwjr.json": dict(
        ts=1458283295, workflow="sryu_MonteCarlo_Sryu_reqmgr2_160318_050144_6584", task="Production",
        site="T2_CH_CERN",
        # stageOut1 comes before cmsRun1 in the document, but its 99999 "Could not find report
        # file" (ReportManipulatingError) only reports that cmsRun1 had failed: 8001 is the job's.
        exit_code=8001, exit_step="cmsRun1",
        jobstate="jobfailed", failed=True, acquisition_era="",
        jobtype="Production", fwjr_id="1257-0", host="mac-122010.local",
        wall_time=1458283183 - 1458283181,  # only logArch1 has both start and stop
        metrics={"TotalJobCPU": 0.32795, "TotalJobTime": 12.2269, "MaxEventCPU": 0.0,
                 "wasted_core_hours": 2 / 3600, "badput_core_hours": 2 / 3600 - 0.32795 / 3600},
        absent=("AvgEventCPU", "AvgEventTime", "events"),
        cpu_efficiency=0.32795 / 2,
        errors=[("stageOut1", 99999), ("cmsRun1", 8001), ("cmsRun1", 8001)],
    ),
    SAMPLES / "ProductionSuccessFwjr.json": dict(
        ts=1458243230, workflow=MC_EFF_WF, task="Production", site="T2_CH_CERN",
        exit_code=0, exit_step="", jobstate="success", failed=False, acquisition_era="Integ_Test",
        jobtype="Production", fwjr_id="1-0", host="mac-122010.local",
        wall_time=2 + 2 + 1601,
        metrics={"TotalJobCPU": 1497.96, "events": 11, "MaxEventTime": 201.851, "readNumOps": 732.0},
        absent=(),
        cpu_efficiency=1497.96 / 1605,
    ),
    SAMPLES / "SkimSuccessFwjr.json": dict(
        ts=1458298627, workflow=SKIM_WF, task="skim_2012A_BTag", site="T2_CH_CERN",
        exit_code=0, exit_step="", jobstate="success", failed=False, acquisition_era="Integ_Test",
        jobtype="Skim", fwjr_id="4469-0", host="mac-122010.local",
        wall_time=8 + 2 + 440,
        metrics={"TotalJobCPU": 159.08, "events": 0 + 107 + 127, "readCachePercentageOps": 0.978633565651},
        absent=(),
        cpu_efficiency=159.08 / 450,
    ),
    SAMPLES / "raw_wmagent_fwjr_2023_go_doc.json": dict(
        ts=1692718966,  # no meta_data: the last step stop, 1692718966.7998054, in whole seconds
        workflow="wmagent_TaskChain_MC_Agent0291_forceComplete_230822_131344_5472",
        task="ProdQCD_Pt_3000_3500_13",
        site="T2_CH_CERN",  # every step has site {}: the report's siteName
        exit_code=0, exit_step="", jobstate="", failed=False, acquisition_era="CMSSW_8_1_0",
        jobtype="", fwjr_id="", host="",
        wall_time=RAW_WALL,
        # cmsRun1 reports TotalJobCPU both in cmssw.Timing and in cpu (as text): counted once.
        metrics={"TotalJobCPU": 6138.81, "TotalJobTime": 6232.28, "PeakValueRss": 771.398, "events": 100,
                 "NumberOfThreads": 1.0, "readTotalMB": 1832.7, "EventThroughput": 0.0160609},
        absent=(),
        cpu_efficiency=6138.81 / RAW_WALL,
        wn_name="b7s02p8541.cern.ch",
    ),
    SCHEMA_SAMPLE: dict(
        ts=1456500229, workflow=TASKCHAIN_WF, task="RECOCOSD", site="T2_CH_CERN",
        exit_code=8001, exit_step="cmsRun1",
        jobstate="success", failed=False,  # the agent said success: jobstate decides, not the error
        acquisition_era="CMSSW_7_0_0_pre11",
        jobtype="Processing", fwjr_id="1-0", host="test.fnal.gov",
        wall_time=1454569736 - 1454569735,
        metrics={"TotalJobCPU": 0.39894, "readTotalMB": 7423.792, "TotalJobTime": 26.4577},
        absent=("AvgEventCPU", "AvgEventTime", "events"),  # -2 and -1
        cpu_efficiency=0.39894 / 1,
    ),
    LEGACY / "fwjr.json": dict(
        identity="kljsdlkjsdf",
        ts=1454617125, workflow=TASKCHAIN_WF, task="RECOCOSD", site="T2_CH_CERN",
        exit_code=0, exit_step="", jobstate="", failed=False, acquisition_era="",
        jobtype="", fwjr_id="100-0", host="vocms008.cern.ch",
        wall_time=(1454569727 - 1454567096) + (1454569736 - 1454569735) + (1454569735 - 1454569727),
        metrics={"TotalJobCPU": 2559.84, "readPercentageOps": 2.33333333333, "PeakValueRss": 1335.16},
        absent=("events",),
        cpu_efficiency=2559.84 / 2640,
    ),
    LEGACY / "fwjr_log.json": dict(
        ts=1434973749,  # the 2015 envelope's time_stamp
        workflow="amaltaro_ReReco_Parents_Agent108_Validation_wf2_v9_150622_120602_1357", task="LogCollect",
        site="T1_US_FNAL_Disk",
        exit_code=0, exit_step="", jobstate="", failed=False, acquisition_era="",
        jobtype="", fwjr_id="939-0", host="",  # the envelope's uid
        retry_count=0,
        wall_time=1434973622 - 1434973511,
        metrics={"core_hours": 111 / 3600},
        absent=("TotalJobCPU",),
        cpu_efficiency=None,
    ),
    LEGACY / "fwjr_merge.json": dict(
        ts=1434722607,
        workflow="amaltaro_TaskChainH130GGgluonfusion_PU_Agent108_Validation_v9_150619_135416_9341",
        task="DIGIPU1MergeFEVTDEBUGHLToutput", site="T1_US_FNAL_Disk",
        exit_code=0, exit_step="", jobstate="", failed=False,
        acquisition_era="CMSSW_7_0_0_pre11",  # output keyed by module: Merged[0]
        jobtype="", fwjr_id="99-0", host="",  # the envelope's uid
        log_archive="/store/unmerged/logs/prod/2015/6/19/amaltaro_TaskChainH130GGgluonfusion_PU_Agent108_Validation_v9_"
        "150619_135416_9341/DIGIPU1/DIGIPU1MergeFEVTDEBUGHLToutput/0000/0/1c3b27dc-1689-11e5-8079-02163e00f074-0-0-"
        "logArchive.tar.gz",  # logArch1's output: the envelope has no LFNArray
        wall_time=37 + 2 + 857,
        metrics={"TotalJobCPU": 512.479, "events": 800, "PeakValueRss": 771.676, "MinEventCPU": 0.0},  # text values
        absent=(),
        cpu_efficiency=512.479 / 896,
    ),
    LEGACY / "fwjr_processing.json": dict(
        ts=1445525006, workflow="fabozzi_Run2015BCharmonium-16Oct2015_7414_151016_150741_9653",
        task="DataProcessing", site="T1_US_FNAL_Disk",
        exit_code=0, exit_step="", jobstate="", failed=False, acquisition_era="Run2015B",
        jobtype="", fwjr_id="3268289-0", host="",  # the envelope's id
        wall_time=1 + 549 + 2,
        metrics={"TotalJobCPU": 158.998, "events": 15 + 15 + 0 + 15, "PeakValueRss": 2031.0,
                 "EventThroughput": 0.100054},
        absent=(),
        cpu_efficiency=158.998 / 552,
    ),
    # The agent's CouchDB form: jobstate, jobtype, fwjr_id (_id), retry_count and the time
    # (timestamp) come from the envelope; the steps object keeps its order.
    COUCHDB / "ErrorCodeFail.json": dict(
        ts=1461990421, workflow="sryu_MonteCarlo_reqmgr1_160430_052119_387", task="Production",
        site="T1_US_FNAL_Disk",
        exit_code=8001, exit_step="cmsRun1",  # stageOut1's 99999 report-file error is a follow-on
        jobstate="jobfailed", failed=True, acquisition_era="",
        jobtype="Production", fwjr_id="2614-0", host="", retry_count=0,
        wall_time=1461989899 - 1461989898,  # only logArch1 has both start and stop
        metrics={"TotalJobCPU": 0.438933, "TotalJobTime": 26.6429, "PeakValueRss": 0.0},
        absent=("events",),
        cpu_efficiency=0.438933 / 1,
        errors=[("cmsRun1", 8001), ("cmsRun1", 8001), ("stageOut1", 99999)],
        log_archive="/store/unmerged/logs/prod/2016/4/30/sryu_MonteCarlo_reqmgr1_160430_052119_387/Production/0000/0/"
        "329e886e-0e88-11e6-b2c3-02163e00efd5-1-0-logArchive.tar.gz",
    ),
    COUCHDB / "FailedByAgent.json": dict(
        ts=1461982232,  # the envelope's timestamp: the only time in the document
        workflow="sryu_TaskChain_Task_Multicore_reqmgr1_160430_020832_2190", task="RECODreHLT",
        site="",  # JobKilled's site is {}
        exit_code=71304, exit_step="JobKilled",
        jobstate="jobfailed", failed=True, acquisition_era="",
        jobtype="Processing", fwjr_id="1002-0", host="", retry_count=0,
        wall_time=6264.856289863586,  # no step times: WMTiming.WMTotalWallClockTime
        metrics={},
        absent=("TotalJobCPU", "cpu_hours", "events"),
        cpu_efficiency=None,
        errors=[("JobKilled", 71304)],
        log_archive="",
    ),
    COUCHDB / "HarvestSuccessFwjr.json": dict(
        ts=1458276069, workflow=HARVEST_WF, task="EndOfRunDQMHarvest", site="T2_CH_CERN",
        exit_code=0, exit_step="", jobstate="success", failed=False, acquisition_era="Integ_Test",
        jobtype="Harvesting", fwjr_id="827-0", host="", retry_count=0,
        wall_time=3 + 389 + 2,  # logArch1 + cmsRun1 + upload1
        metrics={"TotalJobCPU": 264.383, "readTotalMB": 42.7638},
        absent=("events",),
        cpu_efficiency=264.383 / 394,
        errors=[],
        log_archive="/store/unmerged/logs/prod/2016/3/18/sryu_DQMHarvesting_Sryu_reqmgr2_160318_050142_4405/"
        "EndOfRunDQMHarvest/0000/0/f7a862f8-ecc1-11e5-b4f2-02163e00efd5-EndOfRun-Harvest-1-0-logArchive.tar.gz",
    ),
}

SCALAR_FIELDS = (
    "ts", "workflow", "task", "site", "exit_code", "exit_step", "jobstate", "failed",
    "acquisition_era", "jobtype", "fwjr_id", "host", "identity", "wn_name", "log_archive", "retry_count",
)


def _reference_documents() -> list[Path]:
    return (
        sorted(SAMPLES.glob("*.json")) + [SCHEMA_SAMPLE] + sorted(LEGACY.glob("*.json")) + sorted(COUCHDB.glob("*.json"))
    )


def test_every_reference_document_has_expectations() -> None:
    """A new file in the reference set must get hand-checked values here too."""
    assert sorted(EXPECTED) == sorted(_reference_documents())


def _only_job(path: Path) -> Job:
    results = list(read_jobs([path]))
    assert len(results) == 1, results
    result = results[0]
    assert type(result) is Job, result.message() if type(result) is Rejection else result
    return result


@pytest.mark.parametrize("path", sorted(EXPECTED), ids=lambda p: p.name)
def test_sample_merges_to_the_hand_computed_job(path: Path) -> None:
    expected = EXPECTED[path]
    job = _only_job(path)

    for field in SCALAR_FIELDS:
        if field in expected:
            assert getattr(job, field) == expected[field], field

    wall = expected["wall_time"]
    assert job.metrics["wall_time"] == pytest.approx(wall)
    assert job.metrics["cores"] == 1.0
    assert job.metrics["core_hours"] == pytest.approx(wall / 3600)
    assert job.metrics["wasted_core_hours"] == pytest.approx(wall / 3600 if expected["failed"] else 0.0)
    for name, value in expected["metrics"].items():
        assert job.metrics.get(name) == pytest.approx(value), name
    for name in expected["absent"]:
        assert name not in job.metrics, name

    if expected["cpu_efficiency"] is None:
        assert job.cpu_efficiency is None
    else:
        assert job.cpu_efficiency == pytest.approx(expected["cpu_efficiency"])
        assert job.efficiency_outlier is (expected["cpu_efficiency"] > 1.0)

    if "errors" in expected:
        assert [(e.step, e.exit_code) for e in job.errors] == expected["errors"]


def test_documents_without_wmaid_get_a_stable_content_identity() -> None:
    first = [j.identity for j in read_jobs(_reference_documents())]
    second = [j.identity for j in read_jobs(_reference_documents())]
    assert first == second
    assert len(set(first)) == len(first)
    assert all(i.startswith("h:") for i in first if i != "kljsdlkjsdf")


def test_error_details_are_kept_per_step() -> None:
    job = _only_job(SAMPLES / "MergeFailedFwjr.json")
    [error] = job.errors
    assert error.type == "JobKilled"
    assert error.details.startswith("The job was killed by the WMAgent for using too much wallclock time")
