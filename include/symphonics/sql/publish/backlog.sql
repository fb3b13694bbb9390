-- Rows still to work on, per state (for the quota ETA and the run summary).
SELECT state, count(*) FROM symphonics.interventions_ledger
 WHERE state IN ('pending', 'prevalidated', 'ready', 'sending', 'failed_retryable')
   AND erased_at IS NULL
 GROUP BY state
