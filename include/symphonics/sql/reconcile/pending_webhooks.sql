-- The webhook events not applied yet, each matched to its ledger row by the partner's id; event order kept.
-- ordering_at is the event's time capped at its receipt; late events (stale or future-dated) only carry a flag.
CREATE TEMPORARY TABLE reconcile_pending ON COMMIT DROP AS
SELECT e.id, e.event_type, e.event_at, e.ordering_at, e.late, e.intervention_id, e.external_id, e.previous_status, e.new_status,
       e.document_type, e.verification_status, e.notes, e.unknown_event,
       l.external_id AS ledger_external_id
  FROM symphonics.webhook_events AS e
  LEFT JOIN symphonics.interventions_ledger AS l ON l.symphonics_id = e.intervention_id
 WHERE e.processed_at IS NULL
