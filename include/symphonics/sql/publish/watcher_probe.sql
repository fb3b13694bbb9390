-- The completion watcher's probe (app database): the next rows after its position on the (updated_at, id)
-- index, at most %(max_rows)s of them. An index range scan from the position, never a scan of the table.
-- Only what the "what is new" decision needs: no personal data leaves the app here.
SELECT i.updated_at, i.id, i.status, i.completed_at IS NOT NULL AS was_completed
  FROM public.interventions AS i
 WHERE (i.updated_at, i.id) > (%(after_at)s::timestamptz, %(after_id)s::bigint)
 ORDER BY i.updated_at, i.id
 LIMIT %(max_rows)s
