-- For the watchdog (dry runs aside): when a publish run last finished, when the first one started, when the newest
-- run still in progress started, and the rows still waiting to be sent.
SELECT (SELECT max(finished_at) FROM symphonics.publish_runs WHERE NOT dry_run) AS last_finished_at,
       (SELECT min(started_at) FROM symphonics.publish_runs WHERE NOT dry_run) AS first_started_at,
       (SELECT max(started_at) FROM symphonics.publish_runs WHERE NOT dry_run AND finished_at IS NULL)
           AS running_started_at,
       (SELECT count(*) FROM symphonics.interventions_ledger
         WHERE state IN ('pending', 'prevalidated', 'ready', 'sending', 'failed_retryable')
           AND erased_at IS NULL) AS backlog
