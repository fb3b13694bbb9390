-- Every state change of one row, in the order they were made (symphonics.ledger_history, migration 0011).
SELECT id, changed_at, from_state, to_state, from_reason, reason, attempts, http_status, error_code, request_id,
       symphonics_id, payload_fingerprint, run_id
  FROM symphonics.ledger_history
 WHERE external_id = %(external_id)s
 ORDER BY id
