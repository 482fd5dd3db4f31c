-- Error counts of the global error view: one row per (bucket, workflow, task, step, site, exit_code),
-- every step's errors (not only the first). Same ladder rollups as agg.
CREATE TABLE IF NOT EXISTS errors
(
    bucket DateTime('UTC'),
    workflow String,
    task String,
    step LowCardinality(String),
    site LowCardinality(String),
    exit_code Int32,
    count UInt64,
    batch String
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (workflow, task, step, site, exit_code, toStartOfMonth(bucket), toStartOfDay(bucket), toStartOfHour(bucket), bucket)
TTL
    bucket + INTERVAL {minute_days} DAY
    GROUP BY workflow, task, step, site, exit_code, toStartOfMonth(bucket), toStartOfDay(bucket), toStartOfHour(bucket)
    SET bucket = min(toStartOfHour(bucket)),
        count = sum(count),
        batch = max(batch),
    bucket + INTERVAL {hour_days} DAY
    GROUP BY workflow, task, step, site, exit_code, toStartOfMonth(bucket), toStartOfDay(bucket)
    SET bucket = min(toStartOfDay(bucket)),
        count = sum(count),
        batch = max(batch),
    bucket + INTERVAL {day_days} DAY
    GROUP BY workflow, task, step, site, exit_code, toStartOfMonth(bucket)
    SET bucket = min(toStartOfMonth(bucket)),
        count = sum(count),
        batch = max(batch)
COMMENT 'error counts; see docs/store.md'
;
