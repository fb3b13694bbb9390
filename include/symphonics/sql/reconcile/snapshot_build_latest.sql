-- The newest build: the change rows of a new date are those made visible since its instants; its counts per
-- category (NULL for a build made before migration 0023) are the base of the new date's.
SELECT snapshot_date, as_of, known_at, row_count, category_rows
  FROM analytics.snapshot_builds
 ORDER BY snapshot_date DESC
 LIMIT 1
