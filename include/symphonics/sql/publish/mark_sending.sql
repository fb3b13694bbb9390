-- Committed before the request leaves: a crash after this leaves the row in `sending`, resolved next run by
-- sending again (the partner's 409 tells a create that arrived from one that did not).
UPDATE symphonics.interventions_ledger
   SET state = 'sending',
       attempts = attempts + 1,
       last_sent_at = now(),
       state_changed_at = CASE WHEN state = 'sending' THEN state_changed_at ELSE now() END,
       updated_at = now(),
       last_run_id = %(run_id)s
 WHERE id = %(id)s AND claim_key = %(claim_key)s
   -- A concurrent extract may have sent the row back to pending with a new source: not this payload, then.
   -- %(from_states)s: the states TRANSITIONS lets a row move to `sending` from (states.sources_of).
   AND state = ANY(%(from_states)s::text[])
RETURNING attempts
