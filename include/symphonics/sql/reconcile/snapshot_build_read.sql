-- The build of a date, if it was built before: a rebuild reads the history as known then.
SELECT as_of, known_at, stale_days, row_count FROM analytics.snapshot_builds WHERE snapshot_date = %(snapshot_date)s
