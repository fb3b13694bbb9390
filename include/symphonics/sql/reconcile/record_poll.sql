-- One poll's answer: a history row when the status changed, then the current state. A newer on-time webhook
-- wins over it; a status a late event set never does. The answer's time is the partner's, capped at now (ours).
-- The answer's next_steps (None for a 404) replace the ones kept: they are the partner's latest word.
WITH previous AS (
    SELECT partner_status FROM symphonics.intervention_sync_state WHERE external_id = %(external_id)s
), history AS (
    INSERT INTO symphonics.status_history (
        external_id, symphonics_id, from_status, to_status, source, notes, occurred_at, run_id
    )
    SELECT %(external_id)s, %(symphonics_id)s, (SELECT partner_status FROM previous), %(status)s, 'poll',
           %(notes)s, least(%(occurred_at)s::timestamptz, now()), %(run_id)s
     WHERE (SELECT partner_status FROM previous) IS DISTINCT FROM %(status)s
    RETURNING id
)
INSERT INTO symphonics.intervention_sync_state AS s (
    external_id, symphonics_id, partner_status, partner_status_at, partner_notes, partner_status_source,
    last_polled_at, updated_at, next_steps
)
VALUES (
    %(external_id)s, %(symphonics_id)s, %(status)s, least(%(occurred_at)s::timestamptz, now()), %(notes)s, 'poll',
    now(), now(), %(next_steps)s
)
    ON CONFLICT ON CONSTRAINT intervention_sync_state_pkey DO UPDATE
   SET symphonics_id = coalesce(s.symphonics_id, EXCLUDED.symphonics_id),
       partner_status = CASE WHEN s.partner_status_at IS NULL OR EXCLUDED.partner_status_at >= s.partner_status_at
                                  OR s.partner_status_source = 'late_webhook'
                             THEN EXCLUDED.partner_status ELSE s.partner_status END,
       partner_notes = CASE WHEN s.partner_status_at IS NULL OR EXCLUDED.partner_status_at >= s.partner_status_at
                                 OR s.partner_status_source = 'late_webhook'
                            THEN coalesce(EXCLUDED.partner_notes, s.partner_notes) ELSE s.partner_notes END,
       partner_status_source = CASE WHEN s.partner_status_at IS NULL
                                         OR EXCLUDED.partner_status_at >= s.partner_status_at
                                         OR s.partner_status_source = 'late_webhook'
                                    THEN 'poll' ELSE s.partner_status_source END,
       partner_status_at = CASE WHEN s.partner_status_source = 'late_webhook' THEN EXCLUDED.partner_status_at
                                ELSE greatest(s.partner_status_at, EXCLUDED.partner_status_at) END,
       next_steps = EXCLUDED.next_steps,
       last_polled_at = now(),
       updated_at = now()
