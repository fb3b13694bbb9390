-- Requests the recent publish runs spent per row they settled: turns the backlog into requests for its ETA.
SELECT coalesce(sum(calls_spent), 0) AS calls,
       coalesce(sum(published + updated + rejected + conflict_unresolved + failed_retryable + dead_letter), 0)
           AS rows_settled
  FROM (SELECT calls_spent, published, updated, rejected, conflict_unresolved, failed_retryable, dead_letter
          FROM symphonics.publish_runs
         WHERE NOT dry_run AND finished_at IS NOT NULL
         ORDER BY started_at DESC
         LIMIT %(runs)s) AS recent
