"""The demo's access to the app database: where it is, and how its reference schema is applied."""

from __future__ import annotations

import os

import psycopg
from psycopg import sql

from include.symphonics.db import APP_CONN_ID
from include.symphonics.sql import SqlFolder

# The app's tables, parents first (the order of a bulk load) - the only tables `--reset` may drop.
APP_TABLES: tuple[str, ...] = (
    "companies",
    "installers",
    "customers",
    "interventions",
    "intervention_services",
    "intervention_equipment",
    "intervention_documents",
    "intervention_photos",
)

# Tables whose user triggers move interventions.updated_at; a bulk load disables them and sets it itself.
TABLES_WITH_TOUCH_TRIGGERS: tuple[str, ...] = (
    "interventions",
    "intervention_services",
    "intervention_equipment",
    "intervention_documents",
    "intervention_photos",
)

APP_DSN_ENV = "SYMPHONICS_APP_DSN"


def resolve_app_dsn(dsn: str | None = None) -> str:
    """Find the app database's DSN: the argument, else ``$SYMPHONICS_APP_DSN``, else connection ``app_db``.

    :param dsn: an explicit DSN (``--dsn``); wins over everything else.
    :raises RuntimeError: when none of the three gives a DSN.
    """
    if dsn:
        return dsn
    from_env = os.environ.get(APP_DSN_ENV)
    if from_env:
        return from_env
    try:
        # Imported here: the demo must work without the project's connection helpers (and without Airflow).
        from include.symphonics.db import dsn as dsn_of_connection  # type: ignore[attr-defined,unused-ignore]
    except ImportError as exc:
        raise RuntimeError(
            f"no app database: pass --dsn, set {APP_DSN_ENV} or define the Airflow connection {APP_CONN_ID!r}"
        ) from exc
    return str(dsn_of_connection(APP_CONN_ID))


def schema_sql() -> str:
    """The reference schema of the app's tables (include/symphonics/sql/app/schema.sql)."""
    return SqlFolder("app").text("schema")


def apply_schema(conn: psycopg.Connection, *, reset: bool = False) -> None:
    """Create the app's tables, indexes and triggers where missing; with ``reset``, drop the tables first.

    Runs in the caller's transaction, so a failure leaves the database as it was.

    :param conn: a connection to the app database.
    :param reset: drop the eight app tables (and their data) before creating them again.
    """
    with conn.cursor() as cur:
        if reset:
            cur.execute(
                sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(
                    sql.SQL(", ").join(sql.Identifier("public", table) for table in reversed(APP_TABLES))
                )
            )
        cur.execute(schema_sql().encode("utf-8"))


def app_tables_row_count(conn: psycopg.Connection) -> int:
    """Rows in the app's tables that the demo fills (0 for an empty copy).

    :param conn: a connection to the app database.
    """
    with conn.cursor() as cur:
        total = 0
        for table in APP_TABLES:
            cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("public", table)))
            row = cur.fetchone()
            total += int(row[0]) if row else 0
        return total
