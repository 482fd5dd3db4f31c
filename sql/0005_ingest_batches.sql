-- The exactly-once ledger: after a stream flush, one row per Kafka partition with the last
-- offset written. A stream batch id is "<topic>/<partition>/<first>-<last>"; rows of a batch
-- whose first offset is beyond its partition's committed offset are debris of a crashed flush
-- (fwjr.query.delete_uncommitted). ReplacingMergeTree keeps, per partition, the row with the
-- highest offset, so the ledger stays small without a TTL that could forget a quiet partition;
-- reads use max(last_offset) and never rely on merges.
CREATE TABLE IF NOT EXISTS ingest_batches
(
    batch String,
    topic LowCardinality(String),
    `partition` Int32,
    last_offset Int64,
    written DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree(last_offset)
ORDER BY (topic, `partition`)
COMMENT 'exactly-once ledger; see docs/store.md'
;
