-- Empty one free-text column (partner notes: they may name anyone) in the person's rows, found by their
-- interventions' external ids through an index ({table} and {column} come from a fixed list, never input).
UPDATE {table} SET {column} = '[erased]'
 WHERE external_id = ANY(%(external_ids)s::text[]) AND {column} IS NOT NULL AND {column} <> '[erased]'
