-- Upsert an extraction page into the ledger. A new row is pending; a row whose source changed (or, when
-- %(force)s, every row but a published one whose source did not change) goes back to pending to be checked again,
-- except a row in `sending`, which only the publisher resolves; conflict_unresolved waits for its id unless forced.
-- Such a held row is flagged (source_changed_while_held): its next transition sends it back to pending, to be
-- compared again (migration 0014). An unchanged row is left alone.
-- A row erased on request (erased_at) is never touched again, whatever the app still holds. A changed row comes
-- back in clear (minimised_at reset): its next decision needs it.
-- Returns one row per staged intervention that was inserted or changed.
INSERT INTO symphonics.interventions_ledger AS l
       (external_id, app_intervention_id, app_status, app_updated_at, source, source_fingerprint, state,
        last_run_id)
SELECT external_id, app_intervention_id, app_status, app_updated_at, source, source_fingerprint, 'pending',
       %(run_id)s
  FROM publish_extracted
    ON CONFLICT ON CONSTRAINT interventions_ledger_external_id_key DO UPDATE
   SET app_status = EXCLUDED.app_status,
       app_updated_at = EXCLUDED.app_updated_at,
       source = EXCLUDED.source,
       source_fingerprint = EXCLUDED.source_fingerprint,
       last_run_id = EXCLUDED.last_run_id,
       updated_at = now(),
       state = CASE
           WHEN l.state = 'sending' THEN l.state
           WHEN l.state = 'conflict_unresolved' AND NOT %(force)s THEN l.state
           ELSE 'pending'
       END,
       state_reason = CASE
           WHEN l.state = 'sending' OR (l.state = 'conflict_unresolved' AND NOT %(force)s) THEN l.state_reason
       END,
       state_detail = CASE
           WHEN l.state = 'sending' OR (l.state = 'conflict_unresolved' AND NOT %(force)s) THEN l.state_detail
       END,
       state_changed_at = CASE
           WHEN l.state IN ('sending', 'pending') OR (l.state = 'conflict_unresolved' AND NOT %(force)s)
               THEN l.state_changed_at
           ELSE now()
       END,
       prevalidated_at = NULL,
       minimised_at = NULL,
       attempts = CASE WHEN l.state = 'sending' THEN l.attempts ELSE 0 END,
       source_changed_while_held = (l.state = 'sending' OR (l.state = 'conflict_unresolved' AND NOT %(force)s))
 WHERE (l.source_fingerprint IS DISTINCT FROM EXCLUDED.source_fingerprint
        -- Forced (or given by external_ids), a row is checked again, except one the partner holds unchanged: it
        -- would go published -> pending -> published for nothing (never sent twice), and its history with it.
        OR (%(force)s AND l.state NOT IN ('published', 'updated')))
   AND l.erased_at IS NULL
RETURNING l.external_id, (xmax = 0) AS inserted
