-- A batch of pending rows the local rules have not seen since their source changed; SKIP LOCKED lets a
-- concurrent run take the next batch instead of waiting for this one. A row erased on request is never sent.
SELECT id, external_id, source, sent_payload, sent_documents, symphonics_id, patched_at
  FROM symphonics.interventions_ledger
 WHERE state = 'pending'
   AND prevalidated_at IS NULL
   AND erased_at IS NULL
   AND id > %(after_id)s
   AND (%(external_ids)s::text[] IS NULL OR external_id = ANY(%(external_ids)s::text[]))  -- a run given external ids: those only
 ORDER BY id
 LIMIT %(batch_size)s
   FOR UPDATE SKIP LOCKED
