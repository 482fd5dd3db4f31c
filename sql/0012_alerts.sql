-- Alert history: one row per state change of an alert (fire, then resolve); the row with the
-- highest version is the alert's current state. `evidence` is the JSON the alert carried
-- (rate, baseline, top exit codes, suspected outages); `resolved` is 0 while it fires.
CREATE TABLE IF NOT EXISTS alerts
(
    id String,
    scope LowCardinality(String),
    value String,
    state LowCardinality(String),
    started DateTime('UTC'),
    fired DateTime('UTC'),
    resolved DateTime('UTC'),
    evidence String,
    members Array(String),
    version UInt8
)
ENGINE = ReplacingMergeTree(version)
ORDER BY id
TTL fired + INTERVAL {day_days} DAY
COMMENT 'alert history; see docs/alerting.md'
;
