-- Store one row's minimised records (fingerprints and non-personal fields). The state is checked again: an
-- extraction that sent the row back to work meanwhile would have waited for this lock, then reset it.
UPDATE symphonics.interventions_ledger
   SET source = %(source)s,
       payload = %(payload)s,
       sent_payload = %(sent_payload)s,
       sent_documents = %(sent_documents)s,
       changed_fields = %(changed_fields)s,
       minimised_at = now()
 WHERE id = %(id)s
   AND state NOT IN ('pending', 'prevalidated', 'ready', 'sending', 'failed_retryable')
