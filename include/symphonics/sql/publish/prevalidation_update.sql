-- Record the local rules' decision on one row (`prevalidated` = passed, on to the partner validation).
UPDATE symphonics.interventions_ledger
   SET state = %(state)s,
       state_reason = %(reason)s,
       state_detail = %(detail)s,
       payload = coalesce(%(payload)s, payload),
       payload_fingerprint = coalesce(%(payload_fingerprint)s, payload_fingerprint),
       changed_fields = %(changed_fields)s,
       prevalidated_at = now(),
       state_changed_at = CASE WHEN state = %(state)s THEN state_changed_at ELSE now() END,
       updated_at = now(),
       last_run_id = %(run_id)s
 WHERE id = %(id)s
