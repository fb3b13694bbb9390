-- The rest of a plausible operation, from what bench/sql/generate_history.sql wrote (set-based, in the database):
-- the ledger (one row per intervention, its latest state), the webhook events the partner's statuses came in
-- (processed, bodies older than 30 days blanked as the nightly purge leaves them), the partner calls (about one
-- per intervention and status poll: publish, validations, reconcile), and the erasure's index (two keyed hashes per
-- intervention; random here: the bench erases a person whose hashes it writes itself).
INSERT INTO symphonics.interventions_ledger (
    external_id, app_intervention_id, app_status, app_updated_at, source, source_fingerprint, state, state_reason,
    symphonics_id, published_at, state_changed_at, first_seen_at, updated_at
)
SELECT DISTINCT ON (h.external_id)
       h.external_id, substr(h.external_id, 5)::bigint, 'completed', h.occurred_at - interval '1 hour',
       jsonb_build_object('customer', jsonb_build_object('id', substr(h.external_id, 5)::bigint %% 1000000)),
       md5(h.external_id), h.to_status, h.notes, h.symphonics_id,
       CASE WHEN h.to_status IN ('published', 'changed_after_publish') THEN h.occurred_at END,
       h.occurred_at, h.occurred_at - interval '1 hour', h.occurred_at
  FROM symphonics.status_history AS h
 WHERE h.source = 'publish'
 ORDER BY h.external_id, h.occurred_at DESC, h.id DESC;

INSERT INTO symphonics.intervention_sync_state (external_id, symphonics_id, ledger_state, ledger_state_at)
SELECT external_id, symphonics_id, state, state_changed_at FROM symphonics.interventions_ledger;

INSERT INTO symphonics.webhook_events (
    received_at, event_type, event_at, intervention_id, external_id, previous_status, new_status, notes, raw_body,
    dedup_key, signature_secret_used, processed_at
)
SELECT h.recorded_at, 'intervention.status_update', h.occurred_at, h.symphonics_id, h.external_id, h.from_status,
       h.to_status, h.notes,
       CASE WHEN h.recorded_at > now() - interval '30 days'
            THEN json_build_object('event', 'intervention.status_update', 'timestamp', h.occurred_at,
                                   'data', json_build_object('intervention_id', h.symphonics_id,
                                                             'external_id', h.external_id,
                                                             'new_status', h.to_status))::text
            ELSE '' END,
       sha256(convert_to(h.id::text, 'UTF8')), 'current', h.recorded_at + interval '1 hour'
  FROM symphonics.status_history AS h
 WHERE h.source = 'webhook';

INSERT INTO symphonics.api_calls (
    called_at, client_id, priority_class, operation, method, path, status, latency_ms, attempt, token_request
)
SELECT l.first_seen_at + c.after, 'bench-client', c.priority_class, c.operation, c.method, c.path, c.status,
       40 + (l.app_intervention_id %% 200), 1, false
  FROM symphonics.interventions_ledger AS l
 CROSS JOIN LATERAL (
     VALUES ('publish', 'validate_pdl', 'GET', '/pdl/**********1234', 200, interval '30 minutes', true),
            ('publish', 'create_intervention', 'POST', '/interventions', 201, interval '1 hour',
             l.symphonics_id IS NOT NULL),
            ('reconcile', 'get_status', 'GET', '/interventions/' || l.symphonics_id, 200, interval '3 days',
             l.app_intervention_id %% 4 = 0 AND l.symphonics_id IS NOT NULL)
 ) AS c (priority_class, operation, method, path, status, after, happens)
 WHERE c.happens AND l.first_seen_at + c.after > now() - interval '90 days' AND l.first_seen_at + c.after <= now();

INSERT INTO symphonics.subject_keys (key_version, key_hash, external_id)
SELECT 1, decode(md5(l.external_id || k.kind) || md5(k.kind || l.external_id), 'hex'), l.external_id
  FROM symphonics.interventions_ledger AS l
 CROSS JOIN (VALUES ('customer_id'), ('email')) AS k (kind)
