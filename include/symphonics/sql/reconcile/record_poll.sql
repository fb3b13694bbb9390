-- One poll's answer: a history row when the status changed, then the current state (a newer webhook wins).
WITH previous AS (
    SELECT partner_status FROM symphonics.intervention_sync_state WHERE external_id = %(external_id)s
), history AS (
    INSERT INTO symphonics.status_history (
        external_id, symphonics_id, from_status, to_status, source, notes, occurred_at, run_id
    )
    SELECT %(external_id)s, %(symphonics_id)s, (SELECT partner_status FROM previous), %(status)s, 'poll',
           %(notes)s, %(occurred_at)s, %(run_id)s
     WHERE (SELECT partner_status FROM previous) IS DISTINCT FROM %(status)s
    RETURNING id
)
INSERT INTO symphonics.intervention_sync_state AS s (
    external_id, symphonics_id, partner_status, partner_status_at, partner_notes, last_polled_at, updated_at
)
VALUES (%(external_id)s, %(symphonics_id)s, %(status)s, %(occurred_at)s, %(notes)s, now(), now())
    ON CONFLICT ON CONSTRAINT intervention_sync_state_pkey DO UPDATE
   SET symphonics_id = coalesce(s.symphonics_id, EXCLUDED.symphonics_id),
       partner_status = CASE WHEN s.partner_status_at IS NULL OR EXCLUDED.partner_status_at >= s.partner_status_at
                             THEN EXCLUDED.partner_status ELSE s.partner_status END,
       partner_notes = CASE WHEN s.partner_status_at IS NULL OR EXCLUDED.partner_status_at >= s.partner_status_at
                            THEN coalesce(EXCLUDED.partner_notes, s.partner_notes) ELSE s.partner_notes END,
       partner_status_at = greatest(s.partner_status_at, EXCLUDED.partner_status_at),
       last_polled_at = now(),
       updated_at = now()
