"""Connections to the project's PostgreSQL databases and the migrations of the ``sync`` database."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

# psycopg is imported where a connection is made, not here: DAG files import the connection ids below, and
# the parser would otherwise pay ~0.16 s for the driver on every parse.

SYNC_CONN_ID = "sync_db"
APP_CONN_ID = "app_db"


def dsn(conn_id: str) -> str:
    """The libpq connection string of the Airflow connection ``conn_id``.

    Resolved through Airflow's secrets backends (``AIRFLOW_CONN_*`` environment variables first, then
    the metadata database), so the same code serves tasks, the CLI and the tests. The host may be a
    unix-socket folder, as the embedded server's is.
    """
    from airflow.sdk import BaseHook  # only where a connection id must be resolved

    return _conninfo(BaseHook.get_connection(conn_id), conn_id)


async def adsn(conn_id: str) -> str:
    """:func:`dsn` for a coroutine (a trigger): the connection is resolved without blocking the event loop."""
    from airflow.sdk import BaseHook

    return _conninfo(await BaseHook.aget_connection(conn_id), conn_id)


def _conninfo(conn: Any, conn_id: str) -> str:
    from psycopg.conninfo import make_conninfo

    params: dict[str, str | int] = {"dbname": conn.schema or conn_id}
    if conn.host:
        params["host"] = conn.host
    if conn.port:
        params["port"] = conn.port
    if conn.login:
        params["user"] = conn.login
    if conn.password:
        params["password"] = conn.password
    for key in ("sslmode", "connect_timeout", "application_name"):
        if key in conn.extra_dejson:
            params[key] = conn.extra_dejson[key]
    return make_conninfo(**params)  # type: ignore[arg-type]


def connect(conn_id_or_dsn: str, *, autocommit: bool = False) -> psycopg.Connection:
    """Open a psycopg connection from an Airflow connection id or a libpq connection string."""
    import psycopg

    target = conn_id_or_dsn if ("=" in conn_id_or_dsn or "://" in conn_id_or_dsn) else dsn(conn_id_or_dsn)
    return psycopg.connect(target, autocommit=autocommit)
