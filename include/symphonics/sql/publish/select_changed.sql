-- One page of the interventions changed after a keyset position (updated_at, id), up to an upper bound.
-- Served by interventions_updated_at_id_idx as a range scan (see docs/APP_CONTRACT.md).
SELECT i.id
  FROM public.interventions AS i
 WHERE (i.updated_at, i.id) > (%(after_at)s::timestamptz, %(after_id)s::bigint)
   AND i.updated_at <= %(until_at)s::timestamptz
 ORDER BY i.updated_at, i.id
 LIMIT %(page_size)s
