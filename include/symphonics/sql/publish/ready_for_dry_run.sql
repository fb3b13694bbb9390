-- What a real run would send now (dry run: nothing is claimed or changed).
SELECT id, external_id, state, payload, sent_documents, symphonics_id
  FROM symphonics.interventions_ledger
 WHERE state IN ('ready', 'sending', 'failed_retryable')
   AND erased_at IS NULL
   AND (%(external_ids)s::text[] IS NULL OR external_id = ANY(%(external_ids)s::text[]))  -- a run given external ids: those only
 ORDER BY id
