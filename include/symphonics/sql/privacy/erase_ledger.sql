-- The person's ledger rows lose every personal value for good; state, reason, ids, timestamps and fingerprints
-- stay (the analysts' counts do not move), and erased_at keeps every publish step away from them.
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
       minimised_at = coalesce(l.minimised_at, now()),
       personal_data_removed_at = now(),
       erased_at = coalesce(l.erased_at, now())
 WHERE l.external_id = ANY(%(external_ids)s::text[])
RETURNING l.symphonics_id
