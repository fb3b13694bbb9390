-- As sweep_json.sql, on the person's own rows only (their interventions' external ids).
UPDATE {table} SET {column} = regexp_replace({column}::text, %(pattern)s, '[erased]', 'gi')::{type}
 WHERE external_id = ANY(%(external_ids)s::text[]) AND {column}::text ~* %(pattern)s
