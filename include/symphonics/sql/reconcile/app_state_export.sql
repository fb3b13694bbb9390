-- Run on the app's database (read only): every intervention changed since a time, with its personal data masked
-- here so that the sync database never holds it in clear.
COPY (
    SELECT i.external_id,
           i.updated_at,
           i.id,
           i.status,
           i.completed_at,
           i.postal_code,
           i.city,
           i.installer_id,
           CASE WHEN strpos(ins.email, '@') > 1
                THEN left(ins.email, 1) || '***@' || split_part(ins.email, '@', 2) END,
           ins.company_id,
           CASE WHEN strpos(c.email, '@') > 1
                THEN left(c.email, 1) || '***@' || split_part(c.email, '@', 2) END,
           CASE WHEN length(regexp_replace(c.phone, '[^0-9]', '', 'g')) >= 2
                THEN '******' || right(regexp_replace(c.phone, '[^0-9]', '', 'g'), 2) END
      FROM public.interventions AS i
      LEFT JOIN public.installers AS ins ON ins.id = i.installer_id
      LEFT JOIN public.customers AS c ON c.id = i.customer_id
     WHERE %(since)s::timestamptz IS NULL OR i.updated_at > %(since)s
) TO STDOUT
