-- Error counts gain the job's retry count and the error's signature (fwjr/signature.py) as keys, so
-- failures can be read per retry (a retry spike that does not settle) and per kind of message. A
-- TTL GROUP BY must be a prefix of the sorting key, so the table is rebuilt with the two keys
-- before the time columns; rows written before have retry 0 and no signature.
CREATE TABLE IF NOT EXISTS errors_keyed
(
    bucket DateTime('UTC'),
    workflow LowCardinality(String),
    task LowCardinality(String),
    step LowCardinality(String),
    site LowCardinality(String),
    exit_code Int32,
    retry_count UInt16,
    signature LowCardinality(String),
    count UInt64,
    batch String
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (workflow, task, step, site, exit_code, retry_count, signature, toStartOfMonth(bucket), toStartOfDay(bucket), toStartOfHour(bucket), bucket)
TTL
    if(bucket = toStartOfHour(bucket), toDateTime('2100-01-01 00:00:00', 'UTC'), bucket + INTERVAL {minute_days} DAY)
    GROUP BY workflow, task, step, site, exit_code, retry_count, signature, toStartOfMonth(bucket), toStartOfDay(bucket), toStartOfHour(bucket)
    SET bucket = min(toStartOfHour(bucket)),
        count = sum(count),
        batch = max(batch),
    if(bucket = toStartOfDay(bucket), toDateTime('2100-01-01 00:00:00', 'UTC'), bucket + INTERVAL {hour_days} DAY)
    GROUP BY workflow, task, step, site, exit_code, retry_count, signature, toStartOfMonth(bucket), toStartOfDay(bucket)
    SET bucket = min(toStartOfDay(bucket)),
        count = sum(count),
        batch = max(batch),
    if(bucket = toDateTime(toStartOfMonth(bucket), 'UTC'), toDateTime('2100-01-01 00:00:00', 'UTC'), bucket + INTERVAL {day_days} DAY)
    GROUP BY workflow, task, step, site, exit_code, retry_count, signature, toStartOfMonth(bucket)
    SET bucket = min(toStartOfMonth(bucket)),
        count = sum(count),
        batch = max(batch)
COMMENT 'error counts; see docs/store.md'
;
INSERT INTO errors_keyed (bucket, workflow, task, step, site, exit_code, retry_count, signature, count, batch)
SELECT bucket, workflow, task, step, site, exit_code, 0, '', count, batch FROM errors
;
RENAME TABLE errors TO errors_unkeyed, errors_keyed TO errors
;
DROP TABLE errors_unkeyed
;
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS retry_count UInt16 AFTER agent_ver
;
-- One recent example message per (exit code, signature), for the error view's signature list.
CREATE TABLE IF NOT EXISTS error_examples
(
    exit_code Int32,
    signature String,
    step LowCardinality(String),
    type String,
    example String,
    seen DateTime('UTC')
)
ENGINE = ReplacingMergeTree(seen)
ORDER BY (exit_code, signature)
TTL seen + INTERVAL {day_days} DAY
COMMENT 'an example message per error signature; see docs/store.md'
;
