-- The last publish runs' summaries, newest first.
SELECT dag_id, run_id, run_type, dry_run, kill_switch, started_at, finished_at, extracted, invalid, rejected,
       published, updated, conflict_unresolved, changed_after_publish, failed_retryable, dead_letter,
       deferred_by_quota, calls_spent, calls_budget, backlog, backlog_eta
  FROM symphonics.publish_runs
 ORDER BY started_at DESC, id DESC
 LIMIT %(limit)s
