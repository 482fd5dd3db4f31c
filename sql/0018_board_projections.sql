-- Board reads over 30 days: two aggregating projections of `agg` keyed by the stored bucket
-- and one or two scope keys, sorted time first (p_site) or exit code first (p_code_workflow).
--
-- `agg` is sorted scope first (the TTL GROUP BY must be a key prefix), so a 30-day range reads every
-- row of two month partitions (1.3M hour rows on the benchmark store) however few keys a view uses.
-- Each projection here holds the same sums per stored bucket and its keys only. Because its key
-- includes `bucket` as stored (minute, hour or day rows stay what they are), any range
-- `bucket >= start AND bucket < end` and any re-bucketing of it is answered exactly, edges
-- included: the results are the table's, read from ~10x (p_site) and ~2x (p_code_workflow) fewer
-- rows on the benchmark store. The engine rebuilds a part's projections on every merge, TTL rollup,
-- delete and partition replace, as for p_totals (sql/0015).
--
-- p_site: every value column per (bucket, site): any measure by site or over time for some sites
-- (the explorer's site views, the overview's top sites).
-- p_code_workflow: the failure counts per (exit_code, bucket, workflow): jobs, failed, failure rate,
-- efficiency outliers and wasted core-hours by exit code, by workflow or both (the explorer's
-- "failed by exit code x workflow", the overview's top exit codes and workflows). Narrow on purpose:
-- the engine weighs an aggregating projection at every query that may use it, at a cost that grows
-- with its aggregates (~12 ms of CPU for 70 sums, measured), and 70 sums per (exit_code, bucket,
-- workflow) would be 350 MB on the benchmark store instead of 11 MB.
-- fwjr/query.py names the one projection a read fits (preferred_optimize_projection_name) and turns
-- projections off for every other scoped read.
--
-- On an existing store the projections are built by background mutations (as in sql/0015); a part
-- without them is read from the table meanwhile, with the same answers.
ALTER TABLE agg ADD PROJECTION IF NOT EXISTS p_site
(
    SELECT
        bucket,
        site,
        sum(jobs),
        sum(failed),
        sum(eff_outliers),
        sum(TotalJobCPU_sum),
        sum(TotalJobCPU_count),
        sum(TotalJobTime_sum),
        sum(TotalJobTime_count),
        sum(TotalEventCPU_sum),
        sum(TotalEventCPU_count),
        sum(TotalLoopCPU_sum),
        sum(TotalLoopCPU_count),
        sum(AvgEventCPU_sum),
        sum(AvgEventCPU_count),
        sum(AvgEventTime_sum),
        sum(AvgEventTime_count),
        sum(MaxEventCPU_sum),
        sum(MaxEventCPU_count),
        sum(MaxEventTime_sum),
        sum(MaxEventTime_count),
        sum(MinEventCPU_sum),
        sum(MinEventCPU_count),
        sum(MinEventTime_sum),
        sum(MinEventTime_count),
        sum(EventThroughput_sum),
        sum(EventThroughput_count),
        sum(NumberOfThreads_sum),
        sum(NumberOfThreads_count),
        sum(NumberOfStreams_sum),
        sum(NumberOfStreams_count),
        sum(PeakValueRss_sum),
        sum(PeakValueRss_count),
        sum(PeakValueVsize_sum),
        sum(PeakValueVsize_count),
        sum(readTotalMB_sum),
        sum(readTotalMB_count),
        sum(writeTotalMB_sum),
        sum(writeTotalMB_count),
        sum(readTotalSecs_sum),
        sum(readTotalSecs_count),
        sum(writeTotalSecs_sum),
        sum(writeTotalSecs_count),
        sum(readNumOps_sum),
        sum(readNumOps_count),
        sum(readMBSec_sum),
        sum(readMBSec_count),
        sum(readAveragekB_sum),
        sum(readAveragekB_count),
        sum(readMaxMSec_sum),
        sum(readMaxMSec_count),
        sum(readPercentageOps_sum),
        sum(readPercentageOps_count),
        sum(readCachePercentageOps_sum),
        sum(readCachePercentageOps_count),
        sum(wall_time_sum),
        sum(wall_time_count),
        sum(cores_sum),
        sum(cores_count),
        sum(events_sum),
        sum(events_count),
        sum(core_hours_sum),
        sum(core_hours_count),
        sum(cpu_hours_sum),
        sum(cpu_hours_count),
        sum(wasted_core_hours_sum),
        sum(wasted_core_hours_count),
        sum(badput_core_hours_sum),
        sum(badput_core_hours_count)
    GROUP BY bucket, site
)
;
ALTER TABLE agg ADD PROJECTION IF NOT EXISTS p_code_workflow
(
    SELECT
        exit_code,
        bucket,
        workflow,
        sum(jobs),
        sum(failed),
        sum(eff_outliers),
        sum(wasted_core_hours_sum),
        sum(wasted_core_hours_count)
    GROUP BY exit_code, bucket, workflow
)
;
ALTER TABLE agg MATERIALIZE PROJECTION p_site SETTINGS alter_sync = 0, mutations_sync = 0
;
ALTER TABLE agg MATERIALIZE PROJECTION p_code_workflow SETTINGS alter_sync = 0, mutations_sync = 0
;
