-- A dry run's run summary (symphonics.publish_runs): a dry run that planned nothing has no row of its own.
SELECT run_id, coalesce(finished_at, started_at) AS recorded_at
  FROM symphonics.publish_runs
 WHERE dry_run AND run_id = %(run_id)s
