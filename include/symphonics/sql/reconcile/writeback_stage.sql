CREATE TEMPORARY TABLE reconcile_writeback_stage (
    external_id text, symphonics_id text, partner_status text, partner_status_at timestamptz,
    partner_notes text, ledger_state text
) ON COMMIT DROP
