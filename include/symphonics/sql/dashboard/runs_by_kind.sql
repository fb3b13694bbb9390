-- Publish runs per kind (run type, or dry_run), all recorded, with the newest start of each.
SELECT CASE WHEN dry_run THEN 'dry_run' ELSE coalesce(run_type, 'unknown') END AS kind,
       count(*) AS runs,
       max(started_at) AS last_started_at
  FROM symphonics.publish_runs
 GROUP BY 1
 ORDER BY 1
