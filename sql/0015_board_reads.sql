-- Board reads. `agg` is sorted scope-first (the TTL GROUP BY must be a key prefix), so a
-- time range prunes only by monthly partition: a 30-day view of hour rows read every row of two
-- months, a year view every row. These changes make the board's reads small without touching the
-- key, the partitions or the ladder.
--
-- The column rewrites and the projection build of an existing store run as background mutations
-- (`alter_sync = 0, mutations_sync = 0`: chDB would otherwise wait for them, and they wait for the
-- merges already running); reads stay exact meanwhile.
--
-- Workflow, task and host names repeat across millions of rows: dictionary-encoded (LowCardinality),
-- they are read and grouped as small integers. Same values, same sort order, same rollups.
ALTER TABLE agg
    MODIFY COLUMN workflow LowCardinality(String),
    MODIFY COLUMN task LowCardinality(String),
    MODIFY COLUMN host LowCardinality(String)
SETTINGS alter_sync = 0, mutations_sync = 0
;
ALTER TABLE errors
    MODIFY COLUMN workflow LowCardinality(String),
    MODIFY COLUMN task LowCardinality(String)
SETTINGS alter_sync = 0, mutations_sync = 0
;
-- An aggregating projection, p_totals: every value column summed per stored bucket, whatever the
-- scope (a few thousand rows a year). It answers the reads with no scope key, the overview's
-- headline and series and the explorer's unfiltered totals and time views, a year included.
-- ClickHouse answers a query from it only when it holds everything the query reads, and reads the
-- table otherwise; fwjr/query.py lets the engine consider it only for such reads (weighing it
-- costs the analysis of every query several ms). Inserts, merges, TTL rollups and deletes build
-- each part's copy from that part's rows, so it always sums exactly what the part holds.
ALTER TABLE agg ADD PROJECTION IF NOT EXISTS p_totals
(
    SELECT
        bucket,
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
    GROUP BY bucket
)
;
-- Build it for the parts already stored; until then a part without it is read from the table.
ALTER TABLE agg MATERIALIZE PROJECTION p_totals SETTINGS alter_sync = 0, mutations_sync = 0
;
