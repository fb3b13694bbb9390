-- The daily snapshots one row appears in.
SELECT snapshot_date, as_of, category, ledger_state, partner_status
  FROM analytics.reconciliation_snapshots
 WHERE external_id = %(external_id)s
 ORDER BY snapshot_date
