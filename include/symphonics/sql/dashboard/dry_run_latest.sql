-- The dry run stored last: by its plan's rows, or, for a dry run that planned nothing (no row), by its run summary.
SELECT run_id, recorded_at
  FROM (SELECT run_id, recorded_at, id FROM symphonics.dry_run_results
        UNION ALL
        SELECT run_id, coalesce(finished_at, started_at), id FROM symphonics.publish_runs WHERE dry_run) AS dry_runs
 ORDER BY recorded_at DESC, id DESC
 LIMIT 1
