-- A row whose source changed while it was held in `sending` or `conflict_unresolved` kept its state and was
-- flagged (ledger_upsert.sql). Once settled (published, updated, failed...), it goes back to pending, so the
-- local-rules step compares it again: new documents are PATCHed, an edit the API cannot carry is reported.
-- %(from_states)s: the states a row may go to pending from, less the held ones (states.HELD_STATES).
UPDATE symphonics.interventions_ledger
   SET state = 'pending',
       state_reason = NULL,
       state_detail = 'the source changed before it was ' || state || ': compared again',
       source_changed_while_held = false,
       prevalidated_at = NULL,
       attempts = 0,
       state_changed_at = now(),
       updated_at = now()
 WHERE source_changed_while_held
   AND state = ANY(%(from_states)s::text[])
   AND erased_at IS NULL
   AND (%(external_ids)s::text[] IS NULL OR external_id = ANY(%(external_ids)s::text[]))  -- a run given external ids: those only
RETURNING external_id
