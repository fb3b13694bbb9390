-- What the partner said of one row (webhooks, polls) and the ledger states the reconciliations recorded.
SELECT occurred_at, recorded_at, source, event_kind, document_type, from_status, to_status, notes, run_id,
       webhook_event_id
  FROM symphonics.status_history
 WHERE external_id = %(external_id)s
 ORDER BY occurred_at, id
