-- Only rows that changed are written (the app's replicas and triggers see no churn).
INSERT INTO symphonics_sync.intervention_status AS t (
    external_id, symphonics_id, partner_status, partner_status_at, partner_notes, ledger_state, updated_at
)
SELECT external_id, symphonics_id, partner_status, partner_status_at, partner_notes, ledger_state, now()
  FROM reconcile_writeback_stage
    ON CONFLICT ON CONSTRAINT intervention_status_pkey DO UPDATE
   SET symphonics_id = EXCLUDED.symphonics_id,
       partner_status = EXCLUDED.partner_status,
       partner_status_at = EXCLUDED.partner_status_at,
       partner_notes = EXCLUDED.partner_notes,
       ledger_state = EXCLUDED.ledger_state,
       updated_at = now()
 WHERE (t.symphonics_id, t.partner_status, t.partner_status_at, t.partner_notes, t.ledger_state)
       IS DISTINCT FROM (EXCLUDED.symphonics_id, EXCLUDED.partner_status, EXCLUDED.partner_status_at,
                         EXCLUDED.partner_notes, EXCLUDED.ledger_state)
