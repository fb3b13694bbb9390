-- One page of the interventions named by the run's `external_ids` param (keyset as for the changed ones).
SELECT i.id
  FROM public.interventions AS i
 WHERE i.external_id = ANY(%(external_ids)s::text[])
   AND (i.updated_at, i.id) > (%(after_at)s::timestamptz, %(after_id)s::bigint)
   AND i.updated_at <= %(until_at)s::timestamptz
 ORDER BY i.updated_at, i.id
 LIMIT %(page_size)s
