-- Run on the app's database (read only): the customer id and e-mail of given interventions (by the app's ids),
-- for the erasure index's backfill.
SELECT i.id, i.customer_id, c.email
  FROM public.interventions AS i
  JOIN public.customers AS c ON c.id = i.customer_id
 WHERE i.id = ANY(%(ids)s::bigint[])
