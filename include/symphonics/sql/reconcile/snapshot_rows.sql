-- Number of rows a date's snapshot holds.
SELECT count(*) FROM analytics.reconciliation_snapshots WHERE snapshot_date = %(snapshot_date)s
