-- Plausible operation, set-based: %(per_day)s interventions completed each day for %(days)s days from
-- %(start)s (a timestamptz, midnight UTC), numbered from %(first_number)s, with the demo's mix of outcomes (by the
-- number modulo 20), written where the nightly snapshot reads them: the app's copy (one version, a second one when
-- cancelled later) and symphonics.status_history (the ledger's states, source publish; the partner's statuses and
-- document verifications, source webhook or poll). Each row is recorded a minute after it happened. Events later
-- than %(until)s are left out (they have not happened yet).
--   0 invalid (missing_document)      1 dead_letter                  2-3 rejected by the partner (a phone in notes)
--   4 a document rejected             5-11 created, approved day 4    12-14 processing, then silence (goes stale)
--   15 published, nothing heard       16 pending (missing_in_partner) 17 out of scope
--   18 published, cancelled in the app day 5                          19 created, approved day 10
WITH interventions AS (
    SELECT n, format('int_%%s', lpad(n::text, 8, '0')) AS external_id, format('sym_%%s', lpad(n::text, 8, '0')) AS sid,
           n %% 20 AS kind,
           %(start)s::timestamptz + ((n - %(first_number)s) / %(per_day)s::int) * interval '1 day'
               + interval '8 hours' + ((n - %(first_number)s) %% %(per_day)s::int) * interval '1 second' AS done
      FROM generate_series(%(first_number)s::bigint, %(first_number)s::bigint + %(days)s::int * %(per_day)s::int - 1) AS n
), app AS (
    INSERT INTO symphonics.app_interventions_copy (
        external_id, app_updated_at, app_intervention_id, status, completed_at, postal_code, city, installer_id,
        installer_masked, company_id, customer_email_masked, customer_phone_masked, copied_at, run_id
    )
    SELECT i.external_id, v.updated_at, i.n, v.status, i.done, lpad((10000 + i.n %% 80000)::text, 5, '0'),
           'Ville', 1 + i.n %% 50, format('i***@installer%%s.fr', i.n %% 50), 1 + i.n %% 10, 'c***@example.fr',
           '******78', v.updated_at + interval '1 minute', 'bench'
      FROM interventions AS i
     CROSS JOIN LATERAL (
         VALUES (i.done, CASE WHEN i.kind = 17 THEN 'in_progress' ELSE 'completed' END),
                (CASE WHEN i.kind = 18 THEN i.done + interval '5 days' END, 'cancelled')
     ) AS v (updated_at, status)
     WHERE v.updated_at IS NOT NULL AND v.updated_at <= %(until)s
    RETURNING 1
), events (external_id, symphonics_id, event_kind, document_type, from_status, to_status, source, notes,
           occurred_at) AS (
    SELECT i.external_id, e.sid, coalesce(e.kind, 'status'), e.document_type, e.from_status, e.to_status, e.source,
           e.notes, i.done + e.after
      FROM interventions AS i
     CROSS JOIN LATERAL (
         VALUES
             -- the ledger
             (NULL, NULL, NULL, NULL, 'pending', 'publish', NULL::text, interval '10 minutes', true),
             (CASE WHEN i.kind NOT IN (0, 1, 16, 17) THEN i.sid END, NULL, NULL, 'pending',
              CASE i.kind WHEN 0 THEN 'invalid' WHEN 1 THEN 'dead_letter' WHEN 16 THEN 'pending'
                          WHEN 17 THEN 'out_of_scope' ELSE 'published' END,
              'publish', CASE i.kind WHEN 0 THEN 'missing_document' WHEN 1 THEN 'too_many_attempts'
                                    WHEN 17 THEN 'not_completed' END,
              interval '1 hour', i.kind NOT IN (16)),
             (i.sid, NULL, NULL, 'published', 'changed_after_publish', 'publish', 'cancelled_after_publish',
              interval '5 days 1 hour', i.kind = 18),
             -- the partner
             (i.sid, NULL, NULL, NULL, 'created', 'webhook', NULL, interval '1 day',
              i.kind BETWEEN 2 AND 14 OR i.kind = 19),
             (i.sid, NULL, NULL, 'created', 'processing', 'webhook', NULL, interval '2 days',
              i.kind BETWEEN 2 AND 14 OR i.kind = 19),
             (i.sid, NULL, NULL, 'processing', 'rejected', 'webhook',
              'Client injoignable au 06 12 34 56 78, PDL illisible', interval '3 days', i.kind IN (2, 3)),
             (i.sid, 'document', 'invoice', NULL, 'rejected', 'webhook', 'facture illisible', interval '3 days',
              i.kind = 4),
             (i.sid, NULL, NULL, 'processing', 'approved', 'poll', NULL, interval '4 days', i.kind BETWEEN 5 AND 11),
             (i.sid, NULL, NULL, 'processing', 'approved', 'webhook', NULL, interval '10 days', i.kind = 19)
     ) AS e (sid, kind, document_type, from_status, to_status, source, notes, after, happens)
     WHERE e.happens AND i.done + e.after <= %(until)s
)
INSERT INTO symphonics.status_history (
    external_id, symphonics_id, event_kind, document_type, from_status, to_status, source, notes, occurred_at,
    recorded_at, run_id
)
SELECT external_id, symphonics_id, event_kind, document_type, from_status, to_status, source, notes, occurred_at,
       occurred_at + interval '1 minute', 'bench'
  FROM events
 WHERE (SELECT count(*) FROM app) >= 0
