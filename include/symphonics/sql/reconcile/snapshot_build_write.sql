-- Written once per date, with the snapshot's rows and their counts per category, in the same transaction.
INSERT INTO analytics.snapshot_builds (snapshot_date, as_of, known_at, stale_days, row_count, category_rows, run_id)
VALUES (%(snapshot_date)s, %(as_of)s, %(known_at)s, %(stale_days)s, %(row_count)s, %(category_rows)s, %(run_id)s)
    ON CONFLICT ON CONSTRAINT snapshot_builds_pkey DO NOTHING
