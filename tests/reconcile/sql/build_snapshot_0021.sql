-- The nightly build as it was before migration 0022 (one row per intervention per night), kept for the tests that
-- fill the old table to compare it with the change rows: never run by the product.
-- The snapshot of one date in one set-based pass: for each intervention the ledger knew at %(as_of)s (out of scope
-- excepted), the app's state beside the partner's, and a category. Everything is read as of %(as_of)s and as known
-- at %(known_at)s, from history tables that are only appended to, so a rebuild of the date gives the same rows.
-- Categories, first match wins (docs/ANALYTICS.md):
--   dead_letter > invalid_in_app > changed_after_publish > missing_in_partner > approved > document_rejected
--   > rejected > stale > awaiting_partner > in_sync
INSERT INTO analytics.reconciliation_snapshots (
    snapshot_date, external_id, as_of, category, app_intervention_id, app_status, app_completed_at,
    app_updated_at, ledger_state, ledger_reason, symphonics_id, partner_status, partner_status_at, partner_notes,
    rejected_documents, published_at, approved_at, days_since_completion, days_in_partner_status,
    installer_id, installer_masked, company_id, postal_code
)
WITH history AS (
    SELECT id, external_id, symphonics_id, event_kind, document_type, to_status, source, notes, occurred_at
      FROM symphonics.status_history
     WHERE occurred_at <= %(as_of)s AND recorded_at <= %(known_at)s
), ledger AS (
    SELECT DISTINCT ON (external_id)
           external_id, to_status AS ledger_state, notes AS ledger_reason, symphonics_id
      FROM history
     WHERE source = 'publish'
     ORDER BY external_id, occurred_at DESC, id DESC
), first_published AS (
    SELECT external_id, min(occurred_at) AS published_at
      FROM history
     WHERE source = 'publish'
       AND to_status IN ('published', 'updated', 'conflict_unresolved', 'changed_after_publish')
     GROUP BY external_id
), partner AS (
    SELECT DISTINCT ON (external_id)
           external_id, to_status AS partner_status, occurred_at AS partner_status_at, notes AS partner_notes,
           symphonics_id
      FROM history
     WHERE source IN ('webhook', 'poll') AND event_kind = 'status'
     ORDER BY external_id, occurred_at DESC, id DESC
), first_approved AS (
    SELECT external_id, min(occurred_at) AS approved_at
      FROM history
     WHERE source IN ('webhook', 'poll') AND event_kind = 'status' AND to_status = 'approved'
     GROUP BY external_id
), documents AS (
    SELECT external_id, array_agg(document_type ORDER BY document_type) AS rejected_documents
      FROM (SELECT DISTINCT ON (external_id, document_type) external_id, document_type, to_status
              FROM history
             WHERE event_kind = 'document'
             ORDER BY external_id, document_type, occurred_at DESC, id DESC) AS latest_verification
     WHERE to_status = 'rejected'
     GROUP BY external_id
), app AS (
    SELECT DISTINCT ON (external_id)
           external_id, app_intervention_id, status, completed_at, app_updated_at, installer_id, installer_masked,
           company_id, postal_code
      FROM symphonics.app_interventions_copy
     WHERE app_updated_at <= %(as_of)s AND copied_at <= %(known_at)s
     ORDER BY external_id, app_updated_at DESC
), joined AS (
    SELECT l.external_id, l.ledger_state, l.ledger_reason,
           coalesce(l.symphonics_id, p.symphonics_id) AS symphonics_id,
           p.partner_status, p.partner_status_at, p.partner_notes,
           coalesce(d.rejected_documents, '{}') AS rejected_documents,
           fp.published_at, fa.approved_at,
           a.app_intervention_id, a.status AS app_status, a.completed_at, a.app_updated_at, a.installer_id,
           a.installer_masked, a.company_id, a.postal_code,
           greatest(p.partner_status_at, fp.published_at) < %(as_of)s - make_interval(days => %(stale_days)s)
               AS quiet_too_long
      FROM ledger AS l
      LEFT JOIN partner AS p ON p.external_id = l.external_id
      LEFT JOIN documents AS d ON d.external_id = l.external_id
      LEFT JOIN first_published AS fp ON fp.external_id = l.external_id
      LEFT JOIN first_approved AS fa ON fa.external_id = l.external_id
      LEFT JOIN app AS a ON a.external_id = l.external_id
     WHERE l.ledger_state <> 'out_of_scope'
)
SELECT %(snapshot_date)s::date,
       j.external_id,
       %(as_of)s,
       CASE
           WHEN j.ledger_state = 'dead_letter' THEN 'dead_letter'
           WHEN j.ledger_state IN ('invalid', 'rejected_validation') THEN 'invalid_in_app'
           WHEN j.ledger_state = 'changed_after_publish'
                OR (j.ledger_state IN ('published', 'updated', 'conflict_unresolved') AND j.app_status = 'cancelled')
               THEN 'changed_after_publish'
           WHEN j.ledger_state IN ('pending', 'prevalidated', 'ready', 'sending', 'failed_retryable')
                OR j.partner_status = 'not_found' THEN 'missing_in_partner'
           WHEN j.partner_status = 'approved' THEN 'approved'
           WHEN cardinality(j.rejected_documents) > 0 THEN 'document_rejected'
           WHEN j.partner_status = 'rejected' THEN 'rejected'
           WHEN j.quiet_too_long THEN 'stale'
           WHEN j.partner_status IS NULL THEN 'awaiting_partner'
           ELSE 'in_sync'
       END,
       j.app_intervention_id,
       j.app_status,
       j.completed_at,
       j.app_updated_at,
       j.ledger_state,
       j.ledger_reason,
       j.symphonics_id,
       j.partner_status,
       j.partner_status_at,
       analytics.mask_personal_data(j.partner_notes),  -- free text: masked like every analyst view (0021)
       j.rejected_documents,
       j.published_at,
       j.approved_at,
       (%(as_of)s AT TIME ZONE 'Europe/Paris')::date - (j.completed_at AT TIME ZONE 'Europe/Paris')::date,
       (%(as_of)s AT TIME ZONE 'Europe/Paris')::date - (j.partner_status_at AT TIME ZONE 'Europe/Paris')::date,
       j.installer_id,
       j.installer_masked,
       j.company_id,
       j.postal_code
  FROM joined AS j
    ON CONFLICT ON CONSTRAINT reconciliation_snapshots_pkey DO NOTHING
