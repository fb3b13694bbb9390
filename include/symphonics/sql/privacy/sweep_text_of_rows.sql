-- As sweep_text.sql, on the person's own rows only (their interventions' external ids).
UPDATE {table} SET {column} = regexp_replace({column}, %(pattern)s, '[erased]', 'gi')
 WHERE external_id = ANY(%(external_ids)s::text[]) AND {column} ~* %(pattern)s
