-- The documented payload's facts for each selected intervention, built set-based in one statement:
-- the children are aggregated by correlated json_agg over their intervention_id indexes, never one query
-- per intervention. Unordered (a sort of the built rows would spill): the caller takes the page's last
-- (updated_at, id) itself. Values are as stored in the app (phone as typed, PDL as typed): the local rules decide.
-- The selection is one of select_changed.sql / select_external_ids.sql (a fixed file, never input). The customer
-- id is outside the record (it is not sent): the extraction keeps only its keyed hash, for an erasure by id.
WITH selected AS (
{selected}
)
SELECT i.id,
       i.updated_at,
       i.external_id,
       i.status,
       json_build_object(
           'external_id', i.external_id,
           'status', i.status,
           'completion_date', to_char(i.completed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
           'customer', json_build_object(
               'first_name', c.first_name,
               'last_name', c.last_name,
               'email', c.email,
               'phone', c.phone
           ),
           'installation', json_build_object(
               'address', i.address,
               'postal_code', i.postal_code,
               'city', i.city,
               'pdl', i.pdl,
               'pce', i.pce
           ),
           'installer', json_build_object(
               'email', ins.email,
               'name', ins.first_name || ' ' || ins.last_name,
               'company_id', co.symphonics_company_id
           ),
           'services', coalesce(
               (SELECT json_agg(json_build_object('code', s.code, 'name', s.name, 'quantity', s.quantity)
                                ORDER BY s.id)
                  FROM public.intervention_services AS s
                 WHERE s.intervention_id = i.id),
               '[]'::json
           ),
           'equipment', coalesce(
               (SELECT json_agg(json_build_object('name', e.name, 'model', e.model,
                                                  'serial_number', e.serial_number, 'quantity', e.quantity)
                                ORDER BY e.id)
                  FROM public.intervention_equipment AS e
                 WHERE e.intervention_id = i.id),
               '[]'::json
           ),
           'documents', coalesce(
               (SELECT json_agg(json_build_object('type', d.type, 'name', d.name, 'url', d.url) ORDER BY d.id)
                  FROM public.intervention_documents AS d
                 WHERE d.intervention_id = i.id),
               '[]'::json
           ),
           'photos', coalesce(
               (SELECT json_agg(json_build_object(
                           'type', p.type,
                           'url', p.url,
                           'latitude', p.latitude,
                           'longitude', p.longitude,
                           'timestamp', to_char(p.taken_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                       ) ORDER BY p.id)
                  FROM public.intervention_photos AS p
                 WHERE p.intervention_id = i.id),
               '[]'::json
           )
       )::text AS source,
       i.customer_id
  FROM selected
  JOIN public.interventions AS i ON i.id = selected.id
  JOIN public.customers AS c ON c.id = i.customer_id
  JOIN public.installers AS ins ON ins.id = i.installer_id
  JOIN public.companies AS co ON co.id = ins.company_id
