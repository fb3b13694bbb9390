-- Replace the person's identifiers in one JSON column, in its text ({table}, {column}, {type} from the catalogue).
UPDATE {table} SET {column} = regexp_replace({column}::text, %(pattern)s, '[erased]', 'gi')::{type}
 WHERE {column}::text ~* %(pattern)s
