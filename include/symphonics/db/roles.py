"""Logins in the project's database roles: one per service, and the analysts' demo login.

The roles themselves are NOLOGIN groups made by the migrations (``symphonics_analyst`` in 0005, the three service
roles in 0006) with exactly their grants. A person or a service connects with a login of its own that is a member
of one of them; ``make run`` makes those logins here, a DBA with ``CREATE ROLE … IN ROLE …`` (README).

A person's login (an analyst's, for BI tools) cannot take the database from the services: it has a connection limit
and a statement timeout of its own (set on the login: a NOLOGIN group's settings do not reach its members), the
services' logins may use the connections PostgreSQL 16 reserves (``reserved_connections``,
``pg_use_reserved_connections``), and a person may connect to the ``sync`` database only (``CONNECT`` on the
server's other databases is revoked from ``PUBLIC``: the services and Airflow connect to them as their owner).
"""

from __future__ import annotations

import logging

import psycopg
from psycopg import sql

from include.symphonics.sql import SqlFolder

log = logging.getLogger(__name__)

ANALYST_ROLE = "symphonics_analyst"
RECEIVER_ROLE = "symphonics_webhook_receiver"
DASHBOARD_ROLE = "symphonics_dashboard"
PIPELINE_ROLE = "symphonics_pipeline"

#: The services' logins ``make run`` and compose make, by the role each is a member of.
SERVICE_LOGINS = {
    RECEIVER_ROLE: "symphonics_webhooks_svc",
    DASHBOARD_ROLE: "symphonics_dashboard_svc",
    PIPELINE_ROLE: "symphonics_pipeline_svc",
}
#: The environment variables holding their passwords for ``python -m include.symphonics.db logins`` (compose).
PASSWORD_ENV = {
    RECEIVER_ROLE: "SYMPHONICS_WEBHOOKS_DB_PASSWORD",
    DASHBOARD_ROLE: "SYMPHONICS_DASHBOARD_DB_PASSWORD",
    PIPELINE_ROLE: "SYMPHONICS_PIPELINE_DB_PASSWORD",
}

#: The group roles whose logins are people's (BI tools, psql), not services'.
PERSON_ROLES = (ANALYST_ROLE,)
#: A person's login: at most this many sessions at once (a BI tool opens a few), ...
PERSON_CONNECTION_LIMIT = 5
#: ... each statement cut after this long, and a transaction left open cut after this long.
PERSON_STATEMENT_TIMEOUT = "60s"
PERSON_IDLE_IN_TRANSACTION_TIMEOUT = "5min"
#: The predefined role (PostgreSQL 16+) whose members may use the ``reserved_connections`` slots.
RESERVED_CONNECTIONS_ROLE = "pg_use_reserved_connections"
#: The server's databases a person may not connect to (everything but ``sync``).
NOT_FOR_PEOPLE = ("airflow", "app", "postgres")

#: The analysts' demo login and its DEMO password (printed by ``make run``; never use it on a shared server).
DEMO_ANALYST_LOGIN = "symphonics_demo_analyst"
DEMO_ANALYST_PASSWORD = "demo-analyst-password-not-a-secret"  # noqa: S105 (a marked demo value)


def ensure_login(conn: psycopg.Connection, login: str, role: str, password: str) -> None:
    """Make ``login`` a login of ``role`` with ``password``, creating it if missing (idempotent).

    The login has no right of its own: everything comes from ``role``. The password is sent as a literal of the
    statement (``CREATE ROLE`` takes no parameters) and never logged.

    :param conn: a connection as a superuser or a role with CREATEROLE, in autocommit mode.
    :param login: the login's name.
    :param role: the group role it becomes a member of (made by a migration).
    :param password: its password (stored as a SCRAM verifier).
    """
    query = SqlFolder("db").query
    exists = conn.execute(query("login_role_exists"), {"login": login}).fetchone()
    verb = sql.SQL("ALTER") if exists else sql.SQL("CREATE")
    conn.execute(query("login_upsert").format(verb=verb, login=sql.Identifier(login), password=sql.Literal(password)))
    conn.execute(query("login_grant").format(role=sql.Identifier(role), login=sql.Identifier(login)))
    if role in PERSON_ROLES:
        limit_person_login(conn, login)
    else:
        keep_reserved_connections(conn, login)


def limit_person_login(conn: psycopg.Connection, login: str) -> None:
    """Give a person's ``login`` its connection limit and timeouts (:data:`PERSON_CONNECTION_LIMIT`, ...).

    :param conn: a connection as a superuser or a role with CREATEROLE, in autocommit mode.
    :param login: the login (not its NOLOGIN group: settings on a group do not reach its members).
    """
    name = sql.Identifier(login)
    conn.execute(sql.SQL("ALTER ROLE {} CONNECTION LIMIT {}").format(name, sql.Literal(PERSON_CONNECTION_LIMIT)))
    for setting, value in (
        ("statement_timeout", PERSON_STATEMENT_TIMEOUT),
        ("idle_in_transaction_session_timeout", PERSON_IDLE_IN_TRANSACTION_TIMEOUT),
    ):
        conn.execute(sql.SQL("ALTER ROLE {} SET {} = {}").format(name, sql.Identifier(setting), sql.Literal(value)))


def keep_reserved_connections(conn: psycopg.Connection, login: str) -> bool:
    """Let a service's ``login`` use the connections PostgreSQL 16+ reserves; ``False`` on an older server, or when
    the connection may not grant it (a DBA's owner that is no superuser: the README says what to grant by hand).

    :param conn: a connection as a superuser (or a member of the predefined role with ADMIN), in autocommit mode.
    :param login: the service's login.
    """
    exists = conn.execute("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = %s", (RESERVED_CONNECTIONS_ROLE,))
    if exists.fetchone() is None:
        return False
    try:
        conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(RESERVED_CONNECTIONS_ROLE), sql.Identifier(login)))
    except psycopg.errors.InsufficientPrivilege:
        log.warning("%s: %s not granted (not allowed to grant it)", login, RESERVED_CONNECTIONS_ROLE)
        return False
    return True


def connect_to_sync_only(conn: psycopg.Connection, databases: tuple[str, ...] = NOT_FOR_PEOPLE) -> list[str]:
    """Revoke ``CONNECT`` from ``PUBLIC`` on ``databases`` (those that exist); returns them.

    :param conn: a connection as their owner or a superuser, in autocommit mode.
    :param databases: the databases no person's login may connect to.
    """
    present = [
        row[0]
        for row in conn.execute(
            "SELECT datname FROM pg_catalog.pg_database WHERE datname = ANY(%s) ORDER BY datname", (list(databases),)
        )
    ]
    for database in present:
        conn.execute(sql.SQL("REVOKE CONNECT ON DATABASE {} FROM PUBLIC").format(sql.Identifier(database)))
    return present
