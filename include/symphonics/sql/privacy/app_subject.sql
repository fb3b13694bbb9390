-- Run on the app's database (read only): the person to erase, by e-mail (any case) or by customer id, and each of
-- their interventions: what the sync may have copied of them.
SELECT c.first_name, c.last_name, c.email, c.phone,
       i.external_id, i.address, i.postal_code, i.city, i.pdl, i.pce
  FROM public.customers AS c
  LEFT JOIN public.interventions AS i ON i.customer_id = c.id
 WHERE (%(email)s::text IS NULL OR lower(c.email) = lower(%(email)s::text))
   AND (%(customer_id)s::bigint IS NULL OR c.id = %(customer_id)s::bigint)
