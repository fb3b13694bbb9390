-- The partner's current status per intervention: the latest on-time status event wins, in its time capped at its
-- receipt, even when an older event is applied after a newer one. Late events (stale or future-dated) never
-- decide it: the poll they queued does (record_poll.sql), and it replaces a status a late event once set.
WITH touched AS (
    SELECT ledger_external_id AS external_id, max(intervention_id) AS symphonics_id, max(ordering_at) AS last_at
      FROM reconcile_pending
     WHERE ledger_external_id IS NOT NULL AND NOT unknown_event AND NOT late
     GROUP BY ledger_external_id
), latest AS (
    SELECT DISTINCT ON (ledger_external_id)
           ledger_external_id AS external_id, new_status, ordering_at, notes
      FROM reconcile_pending
     WHERE ledger_external_id IS NOT NULL AND event_type = 'intervention.status_update' AND NOT unknown_event
       AND NOT late
     ORDER BY ledger_external_id, ordering_at DESC, id DESC
)
INSERT INTO symphonics.intervention_sync_state AS s (
    external_id, symphonics_id, partner_status, partner_status_at, partner_notes, partner_status_source,
    last_webhook_at, updated_at
)
SELECT t.external_id, t.symphonics_id, latest.new_status, latest.ordering_at, latest.notes,
       CASE WHEN latest.new_status IS NOT NULL THEN 'webhook' END, t.last_at, now()
  FROM touched AS t
  LEFT JOIN latest ON latest.external_id = t.external_id
    ON CONFLICT ON CONSTRAINT intervention_sync_state_pkey DO UPDATE
   SET symphonics_id = coalesce(EXCLUDED.symphonics_id, s.symphonics_id),
       partner_status = CASE WHEN EXCLUDED.partner_status_at >= s.partner_status_at OR s.partner_status_at IS NULL
                                  OR s.partner_status_source = 'late_webhook'
                             THEN coalesce(EXCLUDED.partner_status, s.partner_status) ELSE s.partner_status END,
       partner_notes = CASE WHEN EXCLUDED.partner_status_at >= s.partner_status_at OR s.partner_status_at IS NULL
                                 OR s.partner_status_source = 'late_webhook'
                            THEN coalesce(EXCLUDED.partner_notes, s.partner_notes) ELSE s.partner_notes END,
       partner_status_source = CASE WHEN EXCLUDED.partner_status IS NOT NULL
                                         AND (EXCLUDED.partner_status_at >= s.partner_status_at
                                              OR s.partner_status_at IS NULL
                                              OR s.partner_status_source = 'late_webhook')
                                    THEN 'webhook' ELSE s.partner_status_source END,
       partner_status_at = CASE WHEN s.partner_status_source = 'late_webhook' AND EXCLUDED.partner_status IS NOT NULL
                                THEN EXCLUDED.partner_status_at
                                ELSE greatest(s.partner_status_at, EXCLUDED.partner_status_at) END,
       last_webhook_at = greatest(s.last_webhook_at, EXCLUDED.last_webhook_at),
       updated_at = now()
