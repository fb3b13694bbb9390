-- A batch of rows that passed the local rules and wait for the partner's validation. The row locks are held
-- while the batch's validations are asked, so a concurrent run takes other rows.
SELECT id, external_id, source, payload
  FROM symphonics.interventions_ledger
 WHERE state = 'prevalidated'
   AND prevalidated_at IS NOT NULL
   AND erased_at IS NULL
   AND id > %(after_id)s
   AND (%(external_ids)s::text[] IS NULL OR external_id = ANY(%(external_ids)s::text[]))  -- a run given external ids: those only
 ORDER BY id
 LIMIT %(batch_size)s
   FOR UPDATE SKIP LOCKED
