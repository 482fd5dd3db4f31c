-- Planned maintenance windows, from `state: maintenance` events on service.status (a downtime
-- feed, `fwjr maintenance add`): one row per announced window; an announcement repeated with the
-- same window is one row. The board shows them beside the outages (docs/alerting.md).
CREATE TABLE IF NOT EXISTS maintenance
(
    service LowCardinality(String),
    start_ts DateTime('UTC'),
    end_ts DateTime('UTC'),
    message String,
    source LowCardinality(String),
    announced DateTime('UTC')
)
ENGINE = ReplacingMergeTree(announced)
ORDER BY (service, start_ts, end_ts)
TTL end_ts + INTERVAL {day_days} DAY
COMMENT 'planned maintenance windows; see docs/alerting.md'
;
