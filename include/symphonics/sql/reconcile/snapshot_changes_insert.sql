-- The snapshot of one date as change rows (migration 0022): for each intervention whose history or app copy
-- gained a row visible since the last build (every one at the first build), its state as of %(as_of)s and as known
-- at %(known_at)s, inserted into analytics.snapshot_changes only where it differs from its latest change row (or
-- as a row with present false when it left the snapshots: out of scope). Everything is read from history tables
-- that are only appended to, so the state of a date is what a full rebuild would give; the time-derived columns
-- (days, the stale category) are computed by the view analytics.reconciliation_snapshots from the date's build.
-- Categories, first match wins (docs/ANALYTICS.md); stale is the view's:
--   dead_letter > invalid_in_app > changed_after_publish > missing_in_partner > approved > document_rejected
--   > rejected > (stale) > awaiting_partner > in_sync
-- %(since_as_of)s, %(since_known_at)s: the last build's instants (NULL at the first build: everything is read);
-- rows recorded up to an hour before the last build are read again, in case a transaction open then committed
-- after it (reading one again only inserts a row if the state differs).
INSERT INTO analytics.snapshot_changes (
    external_id, valid_from, present, category, app_intervention_id, app_status, app_completed_at,
    app_updated_at, ledger_state, ledger_reason, symphonics_id, partner_status, partner_status_at, partner_notes,
    rejected_documents, published_at, approved_at, installer_id, installer_masked, company_id, postal_code
)
-- The bounds are written as constants (no CTE of them): the planner then reads the changes through the indexes on
-- recorded_at/occurred_at and copied_at/app_updated_at; joined to a CTE, it read the whole history every night.
WITH candidates AS (
    SELECT h.external_id
      FROM symphonics.status_history AS h
     WHERE (h.recorded_at > coalesce(%(since_known_at)s::timestamptz - interval '1 hour', '-infinity')
            AND h.recorded_at <= %(known_at)s)
        OR (h.occurred_at > coalesce(%(since_as_of)s::timestamptz, '-infinity') AND h.occurred_at <= %(as_of)s)
     UNION
    SELECT a.external_id
      FROM symphonics.app_interventions_copy AS a
     WHERE (a.copied_at > coalesce(%(since_known_at)s::timestamptz - interval '1 hour', '-infinity')
            AND a.copied_at <= %(known_at)s)
        OR (a.app_updated_at > coalesce(%(since_as_of)s::timestamptz, '-infinity') AND a.app_updated_at <= %(as_of)s)
), history AS (
    SELECT id, external_id, symphonics_id, event_kind, document_type, to_status, source, notes, occurred_at
      FROM symphonics.status_history
     WHERE occurred_at <= %(as_of)s AND recorded_at <= %(known_at)s
       AND external_id IN (SELECT external_id FROM candidates)
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
       AND external_id IN (SELECT external_id FROM candidates)
     ORDER BY external_id, app_updated_at DESC
), joined AS (
    SELECT l.external_id, l.ledger_state, l.ledger_reason,
           coalesce(l.symphonics_id, p.symphonics_id) AS symphonics_id,
           p.partner_status, p.partner_status_at, p.partner_notes,
           coalesce(d.rejected_documents, '{}') AS rejected_documents,
           fp.published_at, fa.approved_at,
           a.app_intervention_id, a.status AS app_status, a.completed_at, a.app_updated_at, a.installer_id,
           a.installer_masked, a.company_id, a.postal_code
      FROM ledger AS l
      LEFT JOIN partner AS p ON p.external_id = l.external_id
      LEFT JOIN documents AS d ON d.external_id = l.external_id
      LEFT JOIN first_published AS fp ON fp.external_id = l.external_id
      LEFT JOIN first_approved AS fa ON fa.external_id = l.external_id
      LEFT JOIN app AS a ON a.external_id = l.external_id
     WHERE l.ledger_state <> 'out_of_scope'
), state AS (
    SELECT j.external_id,
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
               WHEN j.partner_status IS NULL THEN 'awaiting_partner'
               ELSE 'in_sync'
           END AS category,
           j.app_intervention_id, j.app_status, j.completed_at AS app_completed_at, j.app_updated_at,
           j.ledger_state, j.ledger_reason, j.symphonics_id, j.partner_status, j.partner_status_at,
           analytics.mask_personal_data(j.partner_notes) AS partner_notes,  -- free text: masked (0021)
           j.rejected_documents, j.published_at, j.approved_at, j.installer_id, j.installer_masked, j.company_id,
           j.postal_code
      FROM joined AS j
), latest AS (
    SELECT DISTINCT ON (c.external_id) c.*
      FROM analytics.snapshot_changes AS c
     WHERE c.external_id IN (SELECT external_id FROM candidates) AND c.valid_from <= %(snapshot_date)s::date
     ORDER BY c.external_id, c.valid_from DESC
)
SELECT coalesce(s.external_id, l.external_id), %(snapshot_date)s::date, s.external_id IS NOT NULL,
       s.category, s.app_intervention_id, s.app_status, s.app_completed_at, s.app_updated_at, s.ledger_state,
       s.ledger_reason, s.symphonics_id, s.partner_status, s.partner_status_at, s.partner_notes,
       s.rejected_documents, s.published_at, s.approved_at, s.installer_id, s.installer_masked, s.company_id,
       s.postal_code
  FROM state AS s
  FULL JOIN latest AS l ON l.external_id = s.external_id
 WHERE (s.external_id IS NULL AND l.present)  -- left the snapshots
    OR (s.external_id IS NOT NULL AND l.external_id IS NULL)  -- first seen
    OR (s.external_id IS NOT NULL AND (
           NOT l.present
           OR (s.category, s.app_intervention_id, s.app_status, s.app_completed_at, s.app_updated_at,
               s.ledger_state, s.ledger_reason, s.symphonics_id, s.partner_status, s.partner_status_at,
               s.partner_notes, s.rejected_documents, s.published_at, s.approved_at, s.installer_id,
               s.installer_masked, s.company_id, s.postal_code)
              IS DISTINCT FROM
              (l.category, l.app_intervention_id, l.app_status, l.app_completed_at, l.app_updated_at,
               l.ledger_state, l.ledger_reason, l.symphonics_id, l.partner_status, l.partner_status_at,
               l.partner_notes, l.rejected_documents, l.published_at, l.approved_at, l.installer_id,
               l.installer_masked, l.company_id, l.postal_code)))
    ON CONFLICT ON CONSTRAINT snapshot_changes_pkey DO NOTHING
