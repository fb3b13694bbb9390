-- The partner answered 404 to a published row's status GET ("test data is reset daily", or deleted at the
-- partner): the row goes to dead_letter for ops, never created again (a transient 404 would make a duplicate).
-- %(from_states)s: the states the partner holds a row in that may move to dead_letter (states.TRANSITIONS).
UPDATE symphonics.interventions_ledger
   SET state = 'dead_letter',
       state_reason = 'partner_not_found',
       state_detail = 'the partner does not know this intervention''s id (404 on its status): never created again',
       last_http_status = 404,
       last_error_code = 'NOT_FOUND',
       last_error_message = %(message)s,
       last_request_id = coalesce(%(request_id)s, last_request_id),
       last_run_id = coalesce(%(run_id)s, last_run_id),
       state_changed_at = now(),
       updated_at = now()
 WHERE external_id = %(external_id)s
   AND symphonics_id = %(symphonics_id)s
   AND state = ANY(%(from_states)s::text[])
