"""A scan of every text, JSON and array column of every table of a database for given values."""

from __future__ import annotations

from collections.abc import Iterable

import psycopg
from psycopg import sql

_COLUMNS = """
SELECT c.table_schema, c.table_name, c.column_name
  FROM information_schema.columns AS c
  JOIN information_schema.tables AS t
    ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
 WHERE c.table_schema NOT IN ('pg_catalog', 'information_schema') AND c.table_schema NOT LIKE 'pg_toast%%'
   AND c.data_type IN ('text', 'character varying', 'character', 'json', 'jsonb', 'ARRAY')
"""


def columns_holding(dsn: str, values: Iterable[str]) -> dict[str, list[str]]:
    """For each value, the ``schema.table.column`` whose text holds it (any case); values found nowhere are absent.

    :param dsn: the database.
    :param values: what to look for.
    """
    found: dict[str, list[str]] = {}
    with psycopg.connect(dsn) as conn:
        columns = conn.execute(_COLUMNS).fetchall()
        assert columns, "the scan found no column at all"
        for schema, table, column in columns:
            statement = sql.SQL("SELECT EXISTS (SELECT FROM {} WHERE strpos(lower({}::text), lower(%s)) > 0)").format(
                sql.Identifier(schema, table), sql.Identifier(column)
            )
            for value in values:
                row = conn.execute(statement, (value,)).fetchone()
                if row and row[0]:
                    found.setdefault(value, []).append(f"{schema}.{table}.{column}")
    return found
