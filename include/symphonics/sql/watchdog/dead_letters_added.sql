-- Rows that entered dead_letter after the mark (a history row id), by reason, and the new mark.
WITH added AS (
    SELECT reason
      FROM symphonics.ledger_history
     WHERE id > %(mark)s AND to_state = 'dead_letter' AND from_state IS DISTINCT FROM 'dead_letter'
)
SELECT (SELECT count(*) FROM added) AS added,
       (SELECT coalesce(jsonb_object_agg(reason, n), '{}'::jsonb)
          FROM (SELECT coalesce(reason, 'none') AS reason, count(*) AS n FROM added GROUP BY 1) AS by_reason)
           AS reasons,
       (SELECT coalesce(max(id), 0) FROM symphonics.ledger_history) AS mark
