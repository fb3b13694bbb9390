-- Store one webhook event once: a delivery whose natural key is already stored is a no-op (no row returned).
INSERT INTO symphonics.webhook_events (
    received_at, event_type, event_at, intervention_id, external_id,
    previous_status, new_status, document_type, verification_status, notes,
    raw_body, dedup_key, unknown_event, late, signature_secret_used
)
VALUES (
    %(received_at)s, %(event_type)s, %(event_at)s, %(intervention_id)s, %(external_id)s,
    %(previous_status)s, %(new_status)s, %(document_type)s, %(verification_status)s, %(notes)s,
    %(raw_body)s, %(dedup_key)s, %(unknown_event)s, %(late)s, %(signature_secret_used)s
)
ON CONFLICT ON CONSTRAINT webhook_events_dedup_key_key DO NOTHING
RETURNING id
