-- The replay's replace journal: one row per step of a range replace (fwjr.query.RangeReplace).
-- A 'staged' row is the replace's commit point: both staging tables are complete, and a replace
-- that stopped after it (a crash between the per-table swaps) is finished by
-- fwjr.query.recover_replaces from them. A 'done' row closes it. Kept for a month for the record.
CREATE TABLE IF NOT EXISTS replace_journal
(
    batch String,
    start DateTime('UTC'),
    `end` DateTime('UTC'),
    partitions Array(String),
    state LowCardinality(String),
    at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY (batch, at)
TTL toDateTime(at) + INTERVAL 30 DAY
COMMENT 'replay replace journal; see docs/replay.md'
;
