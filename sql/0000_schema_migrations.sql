-- The versions applied so far; fwjr/migrate.py runs this file before every migration pass.
CREATE TABLE IF NOT EXISTS schema_migrations
(
    version String,
    applied DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree
ORDER BY version
;
