-- The first version of sql/0015 also added `p_site_code` (every value summed per bucket, site,
-- job state and exit code). Measured on the benchmark store, on a quiet machine: the overview's top
-- sites and exit codes and a 7-day site x job state view were no faster from it than from the
-- table (LowCardinality columns make those scans cheap, and weighing the projection costs each
-- query several ms), a 30-day site view ~30% faster; it cost 8% more disk and a second aggregation
-- on every insert. Stores that applied that version drop it; for others this does nothing.
ALTER TABLE agg DROP PROJECTION IF EXISTS p_site_code SETTINGS alter_sync = 0, mutations_sync = 0
;
