"""The metric rule table: how a job's steps combine into one value per metric.

A job has several steps (cmsRun1, stageOut1, logArch1, ...), each with its own
`performance` groups. One job record carries one value per metric, so every metric
needs a rule saying how step values combine. The table below is the single source of
truth: the merge, the ClickHouse columns (sql/) and the board's units all read it.

Rules (docs/merge.md gives the reasoning):
  sum   totals: Total*, *TotalMB, *TotalSecs, operation counts
  max   peaks and maxima: Peak*, Max*, thread/stream counts
  min   minima: Min*
  wavg  averages and rates, weighted by each step's time (stop - start, else its
        TotalJobTime, else 1), so a 2-second stage-out cannot outweigh a 2-hour cmsRun

Values that mean "no value" (-1, nan, inf, "", None, missing, non-numbers) are skipped,
never counted as zero. A metric no step reports is absent from the job record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Rule = Literal["sum", "max", "min", "wavg"]


@dataclass(frozen=True, slots=True)
class Metric:
    """One performance metric: where it is read, how steps combine, how it is shown."""

    name: str
    group: str
    rule: Rule
    unit: str
    title: str


METRICS: tuple[Metric, ...] = (
    Metric("TotalJobCPU", "cpu", "sum", "s", "CPU time"),
    Metric("TotalJobTime", "cpu", "sum", "s", "Job time (cmsRun)"),
    Metric("TotalEventCPU", "cpu", "sum", "s", "Event CPU time"),
    Metric("TotalLoopCPU", "cpu", "sum", "s", "Event-loop CPU time"),
    Metric("AvgEventCPU", "cpu", "wavg", "s", "Avg. event CPU"),
    Metric("AvgEventTime", "cpu", "wavg", "s", "Avg. event time"),
    Metric("MaxEventCPU", "cpu", "max", "s", "Max. event CPU"),
    Metric("MaxEventTime", "cpu", "max", "s", "Max. event time"),
    Metric("MinEventCPU", "cpu", "min", "s", "Min. event CPU"),
    Metric("MinEventTime", "cpu", "min", "s", "Min. event time"),
    Metric("EventThroughput", "cpu", "wavg", "1/s", "Event throughput"),
    Metric("NumberOfThreads", "cpu", "max", "", "Threads"),
    Metric("NumberOfStreams", "cpu", "max", "", "Streams"),
    Metric("PeakValueRss", "memory", "max", "MB", "Peak RSS"),
    Metric("PeakValueVsize", "memory", "max", "MB", "Peak VSIZE"),
    Metric("readTotalMB", "storage", "sum", "MB", "Read"),
    Metric("writeTotalMB", "storage", "sum", "MB", "Written"),
    Metric("readTotalSecs", "storage", "sum", "s", "Read time"),
    Metric("writeTotalSecs", "storage", "sum", "s", "Write time"),
    Metric("readNumOps", "storage", "sum", "", "Read operations"),
    Metric("readMBSec", "storage", "wavg", "MB/s", "Read rate"),
    Metric("readAveragekB", "storage", "wavg", "kB", "Avg. read size"),
    Metric("readMaxMSec", "storage", "max", "ms", "Max. read time"),
    Metric("readPercentageOps", "storage", "wavg", "%", "Read ops share"),
    Metric("readCachePercentageOps", "storage", "wavg", "%", "Read cache ops share"),
)

# Derived per job by the merge (not read from one performance group).
DERIVED: tuple[Metric, ...] = (
    Metric("wall_time", "job", "sum", "s", "Wall time"),
    Metric("cores", "job", "max", "", "Cores"),
    Metric("events", "job", "sum", "", "Events"),
    Metric("core_hours", "job", "sum", "h", "Core-hours"),
    Metric("cpu_hours", "job", "sum", "h", "CPU-hours"),
    Metric("wasted_core_hours", "job", "sum", "h", "Core-hours wasted (failed jobs)"),
    Metric("badput_core_hours", "job", "sum", "h", "CPU badput (core-hours - CPU-hours)"),
)

ALL_METRICS: tuple[Metric, ...] = METRICS + DERIVED
METRIC_NAMES: tuple[str, ...] = tuple(m.name for m in ALL_METRICS)
BY_NAME: dict[str, Metric] = {m.name: m for m in ALL_METRICS}

# Group -> ((metric name, rule), ...) for the merge's inner loop.
BY_GROUP: dict[str, tuple[tuple[str, Rule], ...]] = {}
for _m in METRICS:
    BY_GROUP.setdefault(_m.group, ())
    BY_GROUP[_m.group] = BY_GROUP[_m.group] + ((_m.name, _m.rule),)

# Newer reports (cmssw performance block) carry the cpu metrics under "Timing" and
# memory under "ApplicationMemory"; they map onto the same groups.
GROUP_ALIASES: dict[str, str] = {"Timing": "cpu", "ApplicationMemory": "memory"}
