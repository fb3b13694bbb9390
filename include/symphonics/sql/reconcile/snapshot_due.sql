-- For the watchdog: whether the snapshot of a date is built, and whether any earlier one was (a deployment whose
-- reconcile never ran yet is not late).
SELECT EXISTS (SELECT 1 FROM analytics.snapshot_builds WHERE snapshot_date = %(snapshot_date)s) AS built,
       EXISTS (SELECT 1 FROM analytics.snapshot_builds WHERE snapshot_date < %(snapshot_date)s) AS ran_before
