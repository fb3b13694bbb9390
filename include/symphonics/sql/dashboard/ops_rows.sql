-- The rows only a person can settle, longest waiting first. No personal data: the external id identifies them.
SELECT external_id, state, state_reason, last_error_code, last_http_status, attempts, symphonics_id,
       state_changed_at
  FROM symphonics.interventions_ledger
 WHERE state IN ('changed_after_publish', 'conflict_unresolved', 'dead_letter')
 ORDER BY state_changed_at, id
 LIMIT %(limit)s
