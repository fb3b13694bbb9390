-- What the partner said of one row (webhooks, polls) and the ledger states the reconciliations recorded. The notes
-- are free text: masked by the analysts' function (e-mails, PDLs, phone numbers).
SELECT occurred_at, recorded_at, source, event_kind, document_type, from_status, to_status,
       analytics.mask_personal_data(notes) AS notes, run_id,
       webhook_event_id
  FROM symphonics.status_history
 WHERE external_id = %(external_id)s
 ORDER BY occurred_at, id
