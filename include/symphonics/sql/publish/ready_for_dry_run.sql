-- What a real run would send now (dry run: nothing is claimed or changed).
SELECT id, external_id, state, payload, sent_documents, symphonics_id
  FROM symphonics.interventions_ledger
 WHERE state IN ('ready', 'sending', 'failed_retryable')
   AND erased_at IS NULL
 ORDER BY id
