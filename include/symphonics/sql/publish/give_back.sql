-- The account was refused while the row was sending (token refused, 401 with a fresh token, or 403s on
-- distinct rows in a row): nothing was created, so the row goes back to the state it was claimed from
-- (%(state)s: ready, failed_retryable or sending, whose reason it kept) with its attempt undone.
UPDATE symphonics.interventions_ledger
   SET state = %(state)s,
       attempts = greatest(attempts - 1, 0),
       last_error_code = %(error_code)s,
       last_error_message = %(error_message)s,
       last_request_id = coalesce(%(request_id)s, last_request_id),
       last_http_status = %(http_status)s,
       state_changed_at = CASE WHEN state = %(state)s THEN state_changed_at ELSE now() END,
       updated_at = now()
 WHERE id = %(id)s
   AND state = 'sending'
