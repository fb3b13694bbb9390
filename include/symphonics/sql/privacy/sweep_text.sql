-- Replace the person's identifiers in one text column ({table} and {column} come from the catalogue, never input).
UPDATE {table} SET {column} = regexp_replace({column}, %(pattern)s, '[erased]', 'gi') WHERE {column} ~* %(pattern)s
