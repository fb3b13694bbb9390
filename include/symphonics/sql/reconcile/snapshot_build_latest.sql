-- The newest build: the change rows of a new date are those made visible since its instants.
SELECT snapshot_date, as_of, known_at, row_count
  FROM analytics.snapshot_builds
 ORDER BY snapshot_date DESC
 LIMIT 1
