-- The rows a new date's snapshot holds, per stored category (the time-derived stale is the view's, not counted
-- apart): the previous build's counts (%(previous_counts)s, a jsonb object; '{}' at the first build), plus the
-- interventions this date's change rows brought into a category, minus those they took out of one. Read through
-- the date's change rows and each one's previous row by primary key, never the whole store (migration 0023).
WITH moves AS (
    SELECT c.category AS entered, p.category AS left_from
      FROM analytics.snapshot_changes AS c
      LEFT JOIN LATERAL (
          SELECT o.category
            FROM analytics.snapshot_changes AS o
           WHERE o.external_id = c.external_id AND o.valid_from < c.valid_from
           ORDER BY o.valid_from DESC
           LIMIT 1
      ) AS p ON true
     WHERE c.valid_from = %(snapshot_date)s::date
), counts AS (
    SELECT key AS category, value::bigint AS rows FROM jsonb_each_text(%(previous_counts)s::jsonb)
    UNION ALL
    SELECT entered, count(*) FROM moves WHERE entered IS NOT NULL GROUP BY entered
    UNION ALL
    SELECT left_from, -count(*) FROM moves WHERE left_from IS NOT NULL GROUP BY left_from
)
SELECT coalesce(jsonb_object_agg(category, rows ORDER BY category), '{}'::jsonb)
  FROM (SELECT category, sum(rows) AS rows FROM counts GROUP BY category HAVING sum(rows) <> 0) AS totals
