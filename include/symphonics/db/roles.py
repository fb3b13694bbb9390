"""Logins in the project's database roles: one per service, and the analysts' demo login.

The roles themselves are NOLOGIN groups made by the migrations (``symphonics_analyst`` in 0005, the three service
roles in 0006) with exactly their grants. A person or a service connects with a login of its own that is a member
of one of them; ``make run`` makes those logins here, a DBA with ``CREATE ROLE … IN ROLE …`` (README).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg import sql

from include.symphonics.sql import SqlFolder

if TYPE_CHECKING:
    import psycopg

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
