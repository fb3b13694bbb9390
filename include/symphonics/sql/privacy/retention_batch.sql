-- One batch of the retention: finished rows that left the pipeline before %(before)s and still hold personal
-- data, pseudonymised or not, lose it: every personal value becomes a removal marker, documents lose their
-- names, changed_fields keep only the names of personal fields, and the partner's free-text error goes.
-- (Rows an erasure already handled are past this too: personal_data_removed_at is set.)
-- Served by interventions_ledger_retention_idx; SKIP LOCKED leaves rows a publish run holds for the next night.
WITH batch AS (
    SELECT id
      FROM symphonics.interventions_ledger
     WHERE personal_data_removed_at IS NULL
       AND state NOT IN ('pending', 'prevalidated', 'ready', 'sending', 'failed_retryable')
       AND state_changed_at < %(before)s
     ORDER BY state_changed_at, id
     LIMIT %(batch_size)s
       FOR UPDATE SKIP LOCKED
)
UPDATE symphonics.interventions_ledger AS l
   SET source = symphonics.redact_personal(l.source, %(paths)s, %(marker)s),
       payload = symphonics.redact_personal(l.payload, %(paths)s, %(marker)s),
       sent_payload = symphonics.redact_personal(l.sent_payload, %(paths)s, %(marker)s),
       sent_documents = symphonics.redact_personal(
           jsonb_build_object('documents', l.sent_documents), %(paths)s, %(marker)s) -> 'documents',
       changed_fields = (SELECT jsonb_object_agg(c.key, CASE WHEN c.key = ANY(%(paths)s) THEN %(marker)s::jsonb
                                                             ELSE c.value END)
                           FROM jsonb_each(l.changed_fields) AS c),
       last_error_message = NULL,
       -- A detail written from a partner's error may quote its message; the error code and status stay.
       state_detail = CASE WHEN l.last_error_code IS NULL THEN l.state_detail END,
       minimised_at = coalesce(l.minimised_at, now()),
       personal_data_removed_at = now()
  FROM batch
 WHERE l.id = batch.id
