-- Data-quality check of a date's snapshot against the ledger (SQLCheckOperator: every column must be true):
-- every ledger row in scope whose state has not moved since the snapshot's as_of is in it, with that state; every
-- snapshot row is a ledger row; no external id twice; partner rows have an id.
-- Over what moved since the build before it (migration 0023), not the whole snapshot: the interventions whose
-- ledger state changed after that build's as_of, and those with a change row since that build's date. Any other
-- intervention has the same snapshot row and the same ledger state as on that night, when its check held: a
-- night's check thus reads a night's changes, whatever the age of the store. The first build is checked whole.
WITH build AS (
    SELECT snapshot_date, as_of, stale_days
      FROM analytics.snapshot_builds
     WHERE snapshot_date = %(snapshot_date)s::date
), previous AS (
    SELECT coalesce(max(snapshot_date), '-infinity'::date) AS snapshot_date,
           coalesce(max(as_of), '-infinity'::timestamptz) AS as_of
      FROM (SELECT snapshot_date, as_of
              FROM analytics.snapshot_builds
             WHERE snapshot_date < %(snapshot_date)s::date
             ORDER BY snapshot_date DESC
             LIMIT 1) AS before_it
), moved AS (
    SELECT l.external_id
      FROM symphonics.interventions_ledger AS l
     WHERE l.state_changed_at > (SELECT as_of FROM previous)
       AND l.state_changed_at <= (SELECT as_of FROM build)
     UNION
    SELECT c.external_id
      FROM analytics.snapshot_changes AS c
     WHERE c.valid_from > (SELECT snapshot_date FROM previous)
       AND c.valid_from <= %(snapshot_date)s::date
), checked AS MATERIALIZED (
    -- Each moved intervention once: its ledger row and its row on the date as the view gives it (its latest
    -- change row on or before the date, by primary key; the view's stale category), either possibly missing.
    SELECT m.external_id, l.external_id IS NOT NULL AS in_ledger, l.state, l.state_changed_at <= b.as_of AS settled,
           coalesce(v.present, false) AS in_snapshot, v.ledger_state, v.symphonics_id,
           CASE
               WHEN v.category IN ('awaiting_partner', 'in_sync')
                    AND greatest(v.partner_status_at, v.published_at)
                        < b.as_of - make_interval(days => b.stale_days)
                   THEN 'stale'
               ELSE v.category
           END AS category
      FROM moved AS m
     CROSS JOIN build AS b
      -- By key, one lookup per moved intervention (LIMIT: never flattened into a pass over the whole ledger).
      LEFT JOIN LATERAL (
          SELECT g.external_id, g.state, g.state_changed_at
            FROM symphonics.interventions_ledger AS g
           WHERE g.external_id = m.external_id
           LIMIT 1
      ) AS l ON true
      LEFT JOIN LATERAL (
          SELECT c.present, c.ledger_state, c.symphonics_id, c.category, c.partner_status_at, c.published_at
            FROM analytics.snapshot_changes AS c
           WHERE c.external_id = m.external_id AND c.valid_from <= b.snapshot_date
           ORDER BY c.valid_from DESC
           LIMIT 1
      ) AS v ON true
)
SELECT (SELECT count(*) FROM build) = 1 AS snapshot_was_built,
       -- The store's key (external_id, valid_from) and the view's one version per id make it so: checked anyway.
       (SELECT count(*) - count(DISTINCT external_id) FROM checked WHERE in_snapshot) = 0 AS no_duplicate_external_id,
       NOT EXISTS (
           SELECT FROM checked
            WHERE in_ledger AND state <> 'out_of_scope' AND settled
              AND (NOT in_snapshot OR ledger_state <> state)
       ) AS every_ledger_row_in_snapshot,
       NOT EXISTS (SELECT FROM checked WHERE in_snapshot AND NOT in_ledger) AS every_snapshot_row_in_ledger,
       NOT EXISTS (
           SELECT FROM checked
            WHERE in_snapshot
              AND category IN ('in_sync', 'approved', 'rejected', 'document_rejected') AND symphonics_id IS NULL
       ) AS partner_rows_have_an_id
