-- A batch of finished rows (no publish run works on them any more) whose personal values are still in clear.
-- SKIP LOCKED: a publish run or a concurrent pass holding a row is not waited for; it is minimised next time.
SELECT id, external_id, source, payload, sent_payload, sent_documents, changed_fields
  FROM symphonics.interventions_ledger
 WHERE minimised_at IS NULL
   AND state NOT IN ('pending', 'prevalidated', 'ready', 'sending', 'failed_retryable')
   AND id > %(after_id)s
 ORDER BY id
 LIMIT %(batch_size)s
   FOR UPDATE SKIP LOCKED
