-- Failed-jobs search by id: an operator pastes a job's fwjr_id or identity (wmaid), and
-- fwjr/query.py's search_failed_jobs looks for an exact match first. `jobs` is sorted by (hour of ts,
-- identity), so without an index that lookup reads every granule of the range. A bloom filter over
-- both ids, one per granule, lets `fwjr_id = x OR identity = x` read the one granule that holds it
-- (measured on the benchmark store: 1 of 13 granules of 7 days).
--
-- On an existing store the index is built for the stored parts by a background mutation
-- (`alter_sync = 0, mutations_sync = 0`, as in sql/0015): a part without it is read whole meanwhile,
-- so answers are the same either way. New parts get it at insert.
ALTER TABLE jobs ADD INDEX IF NOT EXISTS jobs_ids_bloom (fwjr_id, identity) TYPE bloom_filter(0.01) GRANULARITY 1
SETTINGS alter_sync = 0, mutations_sync = 0
;
ALTER TABLE jobs MATERIALIZE INDEX jobs_ids_bloom SETTINGS alter_sync = 0, mutations_sync = 0
;
