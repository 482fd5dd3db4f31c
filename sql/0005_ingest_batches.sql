-- One row per Kafka partition per committed stream flush: the exactly-once ledger.
-- Rows of agg, errors, jobs and dlq_counts whose stream batch is absent here are debris of a
-- crashed flush (see fwjr.query.uncommitted_batches). Kept {batches_days} days.
CREATE TABLE IF NOT EXISTS ingest_batches
(
    batch String,
    topic LowCardinality(String),
    `partition` Int32,
    last_offset Int64,
    written DateTime('UTC') DEFAULT now()
)
ENGINE = MergeTree
ORDER BY (topic, `partition`, last_offset)
TTL written + INTERVAL {batches_days} DAY
COMMENT 'exactly-once ledger; see docs/store.md'
;
