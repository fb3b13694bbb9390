-- Which of the dashboard's tables exist yet (migrations land one by one; a missing table means "no data yet").
SELECT name, to_regclass('symphonics.' || name) IS NOT NULL AS present
  FROM unnest(%(names)s::text[]) AS name
