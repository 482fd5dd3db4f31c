-- Rejected service status events counted per minute and reason (the reasons are also logged).
CREATE TABLE IF NOT EXISTS status_rejects
(
    bucket DateTime('UTC'),
    reason LowCardinality(String),
    count UInt64
)
ENGINE = SummingMergeTree
ORDER BY (reason, bucket)
TTL bucket + INTERVAL {day_days} DAY
COMMENT 'rejected status events; see docs/alerting.md'
;
