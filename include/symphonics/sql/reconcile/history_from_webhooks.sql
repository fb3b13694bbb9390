-- Every matched on-time event becomes one status_history row (once: the unique webhook_event_id makes a rerun a
-- no-op), dated by our clock at the latest. A late event is not history: a replayed or future-dated message is
-- no evidence of a transition; the poll it queued records the partner's real status.
INSERT INTO symphonics.status_history (
    external_id, symphonics_id, event_kind, document_type, from_status, to_status, source, notes,
    occurred_at, webhook_event_id, run_id
)
SELECT p.ledger_external_id,
       p.intervention_id,
       CASE WHEN p.event_type = 'document.verification' THEN 'document' ELSE 'status' END,
       CASE WHEN p.event_type = 'document.verification' THEN p.document_type END,
       CASE WHEN p.event_type = 'document.verification' THEN NULL ELSE p.previous_status END,
       CASE WHEN p.event_type = 'document.verification' THEN p.verification_status ELSE p.new_status END,
       'webhook',
       p.notes,
       p.ordering_at,
       p.id,
       %(run_id)s
  FROM reconcile_pending AS p
 WHERE p.ledger_external_id IS NOT NULL AND NOT p.unknown_event AND NOT p.late
 ORDER BY p.ordering_at, p.id
    ON CONFLICT (webhook_event_id) WHERE webhook_event_id IS NOT NULL DO NOTHING
