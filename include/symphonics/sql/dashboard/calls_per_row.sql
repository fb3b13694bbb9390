-- The last finished publish run that settled rows (a dry run, or a backfill over published days, settles none):
-- the requests it spent per row it settled turn the backlog into requests for the ETA.
SELECT run_id, run_type, finished_at, calls_spent AS calls,
       published + updated + rejected + conflict_unresolved + failed_retryable + dead_letter AS rows_settled
  FROM symphonics.publish_runs
 WHERE NOT dry_run
   AND finished_at IS NOT NULL
   AND calls_spent > 0
   AND published + updated + rejected + conflict_unresolved + failed_retryable + dead_letter > 0
 ORDER BY finished_at DESC, id DESC
 LIMIT 1
