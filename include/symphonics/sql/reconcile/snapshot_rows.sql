-- Number of rows a new date's snapshot holds: the previous build's, plus the interventions this date's change rows
-- brought in, minus those they took out (read through the date's change rows only, never the whole store).
SELECT %(previous_rows)s::bigint + coalesce(sum(c.present::int - coalesce(p.present, false)::int), 0)
  FROM analytics.snapshot_changes AS c
  LEFT JOIN LATERAL (
      SELECT o.present
        FROM analytics.snapshot_changes AS o
       WHERE o.external_id = c.external_id AND o.valid_from < c.valid_from
       ORDER BY o.valid_from DESC
       LIMIT 1
  ) AS p ON true
 WHERE c.valid_from = %(snapshot_date)s::date
