-- Outage windows derived from service_events: one row per (service, start), rewritten as the
-- window grows, worsens or ends; `version` counts the changes so the newest row wins.
-- `end_ts` is 0 while the outage is still open. Reads take argMax(..., version), never FINAL merges.
CREATE TABLE IF NOT EXISTS outages
(
    service LowCardinality(String),
    start_ts DateTime('UTC'),
    end_ts DateTime('UTC'),
    state LowCardinality(String),
    message String,
    source LowCardinality(String),
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (service, start_ts)
TTL start_ts + INTERVAL {day_days} DAY
COMMENT 'outage windows; see docs/alerting.md'
;
