-- The publish runs' summaries, newest first, optionally of one kind: a run type (scheduled, manual, backfill,
-- asset_triggered) or 'dry_run' (any type run with the param).
SELECT dag_id, run_id, run_type, dry_run, kill_switch, started_at, finished_at, extracted, invalid, rejected,
       published, updated, conflict_unresolved, changed_after_publish, failed_retryable, dead_letter,
       deferred_by_quota, calls_spent, calls_budget, backlog, backlog_eta,
       CASE WHEN dry_run THEN 'dry_run' ELSE coalesce(run_type, 'unknown') END AS kind
  FROM symphonics.publish_runs
 WHERE %(kind)s::text IS NULL
    OR (CASE WHEN dry_run THEN 'dry_run' ELSE coalesce(run_type, 'unknown') END) = %(kind)s::text
 ORDER BY started_at DESC, id DESC
 LIMIT %(limit)s
