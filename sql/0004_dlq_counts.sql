-- Rejected input counted by reason (the documents themselves go to the fwjr.dlq topic).
CREATE TABLE IF NOT EXISTS dlq_counts
(
    bucket DateTime('UTC'),
    reason LowCardinality(String),
    count UInt64,
    batch String
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (reason, toStartOfMonth(bucket), toStartOfDay(bucket), toStartOfHour(bucket), bucket)
TTL
    bucket + INTERVAL {minute_days} DAY
    GROUP BY reason, toStartOfMonth(bucket), toStartOfDay(bucket), toStartOfHour(bucket)
    SET bucket = min(toStartOfHour(bucket)),
        count = sum(count),
        batch = max(batch),
    bucket + INTERVAL {hour_days} DAY
    GROUP BY reason, toStartOfMonth(bucket), toStartOfDay(bucket)
    SET bucket = min(toStartOfDay(bucket)),
        count = sum(count),
        batch = max(batch),
    bucket + INTERVAL {day_days} DAY
    GROUP BY reason, toStartOfMonth(bucket)
    SET bucket = min(toStartOfMonth(bucket)),
        count = sum(count),
        batch = max(batch)
COMMENT 'dead-letter counts; see docs/store.md'
;
