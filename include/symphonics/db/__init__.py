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


#: Extras ``PostgresHook.get_conn`` does not pass to the driver (``PostgresHook.ignored_extra_options`` of
#: apache-airflow-providers-postgres 7.1.1): the hook's own settings, not libpq's. A test holds the two equal.
IGNORED_EXTRAS = frozenset(
    {
        "iam",
        "redshift",
        "redshift-serverless",
        "cursor",
        "cluster-identifier",
        "workgroup-name",
        "aws_conn_id",
        "sqlalchemy_scheme",
        "sqlalchemy_query",
        "azure_conn_id",
    }
)


def libpq_keywords() -> frozenset[str]:
    """Every keyword the installed libpq takes in a connection string (``sslrootcert``, ``options``...)."""
    from psycopg.pq import Conninfo

    return frozenset(option.keyword.decode() for option in Conninfo.get_defaults())


def _conninfo(conn: Any, conn_id: str) -> str:
    """The connection string of an Airflow connection, with every libpq keyword of its extras.

    As ``PostgresHook.get_conn`` does: the host, port, login, password and schema, then each extra but the hook's
    own (:data:`IGNORED_EXTRAS`), so ``sslmode``, ``sslrootcert``, ``sslcert``, ``sslkey``, ``options``, the
    keepalives or ``target_session_attrs`` all reach libpq. Unlike the hook, an extra libpq does not know is
    refused here, by name, when the string is built (the hook would fail later, in the driver); and ``iam``, which
    the hook turns into a token, is refused rather than silently dropped.

    :raises ValueError: an extra is not a libpq keyword, or asks for IAM authentication.
    """
    from psycopg.conninfo import make_conninfo

    params: dict[str, Any] = {"dbname": conn.schema or conn_id}
    if conn.host:
        params["host"] = conn.host
    if conn.port:
        params["port"] = conn.port
    if conn.login:
        params["user"] = conn.login
    if conn.password:
        params["password"] = conn.password
    extras = dict(conn.extra_dejson)
    if extras.get("iam"):
        raise ValueError(f"connection {conn_id!r}: extra 'iam' (IAM authentication) is not supported here")
    known = libpq_keywords()
    unknown = sorted(key for key in extras if key not in IGNORED_EXTRAS and key not in known)
    if unknown:
        raise ValueError(
            f"connection {conn_id!r}: extra {', '.join(map(repr, unknown))} is not a libpq connection keyword "
            "(see https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-PARAMKEYWORDS)"
        )
    for key, value in extras.items():
        if key in IGNORED_EXTRAS or value is None:
            continue
        # JSON booleans (keepalives: true) as libpq's 1 / 0.
        params[key] = int(value) if isinstance(value, bool) else value
    return make_conninfo(**params)


def with_options(conninfo: str, options: str) -> str:
    """``conninfo`` with ``options`` (``-c name=value ...``) added after the server options it already has."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    present = str(conninfo_to_dict(conninfo).get("options") or "").strip()
    return make_conninfo(conninfo, options=f"{present} {options}".strip())


def connect(conn_id_or_dsn: str, *, autocommit: bool = False) -> psycopg.Connection:
    """Open a psycopg connection from an Airflow connection id or a libpq connection string."""
    import psycopg

    target = conn_id_or_dsn if ("=" in conn_id_or_dsn or "://" in conn_id_or_dsn) else dsn(conn_id_or_dsn)
    return psycopg.connect(target, autocommit=autocommit)
