-- Every text and JSON column of every table of the sync database's own schemas (the erasure's sweep), except two
-- tables that hold no personal data by construction: the erasure record itself, and the ledger's history (states,
-- reasons and error codes only, migration 0011; read-only to the pipeline's role, which runs the erasure). And
-- whether its table names each row's intervention (an external_id column), so the person's own rows can be swept
-- for more than the distinctive values.
SELECT c.table_schema, c.table_name, c.column_name, c.data_type,
       EXISTS (SELECT FROM information_schema.columns AS e
                WHERE e.table_schema = c.table_schema AND e.table_name = c.table_name
                  AND e.column_name = 'external_id' AND e.data_type = 'text') AS has_external_id
  FROM information_schema.columns AS c
  JOIN information_schema.tables AS t
    ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
 WHERE c.table_schema IN ('symphonics', 'analytics')
   AND c.data_type IN ('text', 'character varying', 'json', 'jsonb')
   AND c.column_name <> 'external_id'
   AND NOT (c.table_schema = 'symphonics' AND c.table_name IN ('privacy_erasures', 'ledger_history'))
 ORDER BY c.table_schema, c.table_name, c.column_name
