-- Record the partner validation's decision on one row: ready with its completed payload, or rejected.
UPDATE symphonics.interventions_ledger
   SET state = %(state)s,
       state_reason = %(reason)s,
       state_detail = %(detail)s,
       payload = coalesce(%(payload)s, payload),
       payload_fingerprint = coalesce(%(payload_fingerprint)s, payload_fingerprint),
       last_error_code = coalesce(%(error_code)s, last_error_code),
       last_error_message = coalesce(%(error_message)s, last_error_message),
       last_request_id = coalesce(%(request_id)s, last_request_id),
       validated_at = now(),
       state_changed_at = CASE WHEN state = %(state)s THEN state_changed_at ELSE now() END,
       updated_at = now(),
       last_run_id = %(run_id)s
 WHERE id = %(id)s
