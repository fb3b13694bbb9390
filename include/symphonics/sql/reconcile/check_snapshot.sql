-- Data-quality check of a date's snapshot against the ledger (SQLCheckOperator: every column must be true).
-- Every ledger row in scope whose state has not moved since the snapshot's as_of is in it, with that state;
-- every snapshot row is a ledger row; no external id twice.
WITH build AS (
    SELECT snapshot_date, as_of FROM analytics.snapshot_builds WHERE snapshot_date = %(snapshot_date)s::date
), snap AS MATERIALIZED (
    -- The date as a constant: the view reads the store for that date only (migration 0022).
    SELECT s.* FROM analytics.reconciliation_snapshots AS s WHERE s.snapshot_date = %(snapshot_date)s::date
)
SELECT (SELECT count(*) FROM build) = 1 AS snapshot_was_built,
       (SELECT count(*) - count(DISTINCT external_id) FROM snap) = 0 AS no_duplicate_external_id,
       -- Counted rather than NOT EXISTS: a whole pass with a hash join (the view has no index for a lookup).
       (SELECT count(*)
          FROM symphonics.interventions_ledger AS l
          LEFT JOIN snap AS s ON s.external_id = l.external_id
         WHERE l.state <> 'out_of_scope'
           AND l.state_changed_at <= (SELECT as_of FROM build)
           AND (s.external_id IS NULL OR s.ledger_state <> l.state)) = 0 AS every_ledger_row_in_snapshot,
       NOT EXISTS (
           SELECT FROM snap AS s
            WHERE NOT EXISTS (SELECT FROM symphonics.interventions_ledger AS l WHERE l.external_id = s.external_id)
       ) AS every_snapshot_row_in_ledger,
       NOT EXISTS (
           SELECT FROM snap AS s
            WHERE s.category IN ('in_sync', 'approved', 'rejected', 'document_rejected') AND s.symphonics_id IS NULL
       ) AS partner_rows_have_an_id
