-- Service status events as received on service.status: the raw history behind the
-- outage windows, kept a year. The same event received twice is folded by merges and by
-- reads (LIMIT 1 BY), so a re-delivered message does not count twice.
CREATE TABLE IF NOT EXISTS service_events
(
    service LowCardinality(String),
    ts DateTime('UTC'),
    state LowCardinality(String),
    message String,
    source LowCardinality(String)
)
ENGINE = ReplacingMergeTree
ORDER BY (service, ts, state, source)
TTL ts + INTERVAL {day_days} DAY
COMMENT 'service status events; see docs/alerting.md'
;
