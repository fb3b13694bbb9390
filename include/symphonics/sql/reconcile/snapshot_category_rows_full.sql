-- The rows a date's snapshot holds, per stored category, counted through the whole store: only when the build
-- before it has no counts (built before migration 0023), once; every later date adds its changes to them.
SELECT coalesce(jsonb_object_agg(category, rows ORDER BY category), '{}'::jsonb)
  FROM (SELECT v.category, count(*) AS rows
          FROM (SELECT DISTINCT ON (c.external_id) c.present, c.category
                  FROM analytics.snapshot_changes AS c
                 WHERE c.valid_from <= %(snapshot_date)s::date
                 ORDER BY c.external_id, c.valid_from DESC) AS v
         WHERE v.present
         GROUP BY v.category) AS totals
