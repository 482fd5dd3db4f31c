-- Recent merged jobs for drill-down (failed jobs, their errors and log archive); short TTL.
-- ReplacingMergeTree keyed on (hour of ts, identity): the same FWJR delivered twice has the same
-- ts and identity, so merges fold duplicates; queries still dedupe with LIMIT 1 BY identity.
CREATE TABLE IF NOT EXISTS jobs
(
    identity String,
    ts DateTime('UTC'),
    workflow String,
    task String,
    site LowCardinality(String),
    host String,
    jobtype LowCardinality(String),
    jobstate LowCardinality(String),
    exit_code Int32,
    exit_step LowCardinality(String),
    acquisition_era LowCardinality(String),
    campaign LowCardinality(String),
    wn_name String,
    fwjr_id String,
    agent_ver LowCardinality(String),
    failed UInt8,
    wall_time Float64,
    cpu_efficiency Nullable(Float64),
    core_hours Float64,
    error_type String,
    error_details String,
    errors String,
    log_archive String,
    batch String,
    src_partition Int32,
    src_offset Int64
)
ENGINE = ReplacingMergeTree
ORDER BY (toStartOfHour(ts), identity)
TTL ts + INTERVAL {jobs_days} DAY
COMMENT 'recent jobs; see docs/store.md'
;
