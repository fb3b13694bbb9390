-- For the watchdog: when a publish run last finished (its summary written, dry runs aside), and the rows still
-- waiting to be sent.
SELECT (SELECT max(finished_at) FROM symphonics.publish_runs WHERE NOT dry_run) AS last_finished_at,
       (SELECT count(*) FROM symphonics.interventions_ledger
         WHERE state IN ('pending', 'prevalidated', 'ready', 'sending', 'failed_retryable')
           AND erased_at IS NULL) AS backlog
