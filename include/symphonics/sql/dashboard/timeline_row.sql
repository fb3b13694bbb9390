-- One ledger row as the dashboard may read it (no copy of the app's personal data); the state's detail is free text,
-- masked by the analysts' function.
SELECT id, external_id, app_intervention_id, app_status, app_updated_at, source_fingerprint, payload_fingerprint,
       sent_fingerprint, state, state_reason,
       analytics.mask_personal_data(state_detail) AS state_detail, symphonics_id, attempts, last_error_code,
       last_request_id, last_http_status, last_run_id, first_seen_at, state_changed_at, prevalidated_at,
       validated_at, last_sent_at, published_at, patched_at
  FROM symphonics.interventions_ledger
 WHERE external_id = %(external_id)s
