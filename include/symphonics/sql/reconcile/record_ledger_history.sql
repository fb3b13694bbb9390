-- The ledger's states as status_history rows (source publish), for the rows whose state moved since last recorded:
-- the snapshot of a past date reads the ledger state of then from here.
WITH changed AS (
    SELECT l.external_id, l.symphonics_id, l.state, l.state_reason, l.state_changed_at, s.ledger_state AS previous
      FROM symphonics.interventions_ledger AS l
      LEFT JOIN symphonics.intervention_sync_state AS s ON s.external_id = l.external_id
     WHERE s.ledger_state IS DISTINCT FROM l.state OR s.ledger_state_at IS DISTINCT FROM l.state_changed_at
), history AS (
    INSERT INTO symphonics.status_history (
        external_id, symphonics_id, from_status, to_status, source, notes, occurred_at, run_id
    )
    SELECT external_id, symphonics_id, previous, state, 'publish', state_reason, state_changed_at, %(run_id)s
      FROM changed
    RETURNING id
)
INSERT INTO symphonics.intervention_sync_state AS s (external_id, symphonics_id, ledger_state, ledger_state_at, updated_at)
SELECT external_id, symphonics_id, state, state_changed_at, now() FROM changed
    ON CONFLICT ON CONSTRAINT intervention_sync_state_pkey DO UPDATE
   SET ledger_state = EXCLUDED.ledger_state,
       ledger_state_at = EXCLUDED.ledger_state_at,
       symphonics_id = coalesce(EXCLUDED.symphonics_id, s.symphonics_id),
       updated_at = now()
