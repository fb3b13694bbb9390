-- Run on the sync database: what the app may show installers, per intervention the partner holds.
COPY (
    SELECT l.external_id, coalesce(l.symphonics_id, s.symphonics_id), s.partner_status, s.partner_status_at,
           s.partner_notes, l.state
      FROM symphonics.interventions_ledger AS l
      LEFT JOIN symphonics.intervention_sync_state AS s ON s.external_id = l.external_id
     WHERE l.published_at IS NOT NULL
) TO STDOUT
