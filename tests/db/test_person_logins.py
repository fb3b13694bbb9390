"""A person's login cannot take the ``sync`` database from the services (an embedded server as ``make run`` starts
it for analysts, on loopback TCP, with few connection slots so the test fills them): each analyst login has a
connection limit and a statement timeout of its own, the services' logins use the reserved connections, and a person
connects to ``sync`` only."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql

from include.symphonics.dashboard import create_dashboard_app
from include.symphonics.dashboard.settings import QuotaLimits
from include.symphonics.db import migrate, roles
from include.symphonics_devstack import localpg

pytestmark = pytest.mark.integration

#: Slots of the test's server: 3 for superusers, 10 reserved for the services, 7 for anyone else.
MAX_CONNECTIONS = 20
PASSWORD = "person-login-test-password"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[localpg.PgServer]:
    data: Path = tmp_path_factory.mktemp("person-logins") / "pg"
    port = _free_port()
    first = localpg.start_embedded(data, keep_running=False, tcp_port=port)
    with psycopg.connect(first.admin_url, autocommit=True) as conn:
        conn.execute(f"ALTER SYSTEM SET max_connections = {MAX_CONNECTIONS}")
    localpg.stop_embedded(data)
    started = localpg.start_embedded(data, keep_running=False, tcp_port=port)
    try:
        started.ensure_databases(["sync", "app"])
        migrate.upgrade(started.url("sync"))
        with psycopg.connect(started.admin_url, autocommit=True) as conn:
            for n in range(2):
                roles.ensure_login(conn, f"analyst_{n}", roles.ANALYST_ROLE, PASSWORD)
            roles.ensure_login(conn, "dashboard_svc", roles.DASHBOARD_ROLE, PASSWORD)
            roles.connect_to_sync_only(conn)
        yield started
    finally:
        localpg.stop_embedded(data)


def _connect(server: localpg.PgServer, login: str, database: str = "sync") -> psycopg.Connection:
    return psycopg.connect(server.tcp_url(database, login, PASSWORD), connect_timeout=5, autocommit=True)


def test_the_server_reserves_connections_for_the_services(server: localpg.PgServer) -> None:
    with psycopg.connect(server.admin_url) as conn:
        reserved = conn.execute("SHOW reserved_connections").fetchone()
        member = conn.execute("SELECT pg_has_role('dashboard_svc', %s, 'MEMBER')", (roles.RESERVED_CONNECTIONS_ROLE,))
        assert member.fetchone() == (True,)
        analyst = conn.execute("SELECT pg_has_role('analyst_0', %s, 'MEMBER')", (roles.RESERVED_CONNECTIONS_ROLE,))
        assert analyst.fetchone() == (False,)
    assert reserved == (str(localpg.RESERVED_CONNECTIONS),)


def test_an_analyst_login_has_its_own_limit_and_timeouts(server: localpg.PgServer) -> None:
    with ExitStack() as held:
        sessions = [held.enter_context(_connect(server, "analyst_0")) for _ in range(roles.PERSON_CONNECTION_LIMIT)]
        with pytest.raises(psycopg.OperationalError, match="too many connections for role"):
            _connect(server, "analyst_0")
        assert sessions[0].execute("SHOW statement_timeout").fetchone() == ("1min",)
        assert sessions[0].execute("SHOW idle_in_transaction_session_timeout").fetchone() == ("5min",)


def test_the_analysts_max_connections_leave_the_dashboard_answering(server: localpg.PgServer) -> None:
    app = create_dashboard_app(
        dsn=server.tcp_url("sync", "dashboard_svc", PASSWORD),
        limits=QuotaLimits(client_id="x", source="tests"),
        login=lambda: {"username": "ops"},
    )
    with ExitStack() as held:
        taken, refused = 0, []
        for login in ("analyst_0", "analyst_1"):
            for _ in range(roles.PERSON_CONNECTION_LIMIT):
                try:
                    held.enter_context(_connect(server, login))
                    taken += 1
                except psycopg.OperationalError as exc:
                    refused.append(str(exc))
        # Every slot a person may take is taken: one more analyst connection is refused...
        assert taken == MAX_CONNECTIONS - 3 - localpg.RESERVED_CONNECTIONS
        assert refused
        assert all("pg_use_reserved_connections" in message for message in refused), refused
        with pytest.raises(psycopg.OperationalError):
            _connect(server, "analyst_1")
        # ... while the dashboard's login still connects, and the dashboard answers.
        response = TestClient(app).get("/api/summary")
        assert response.status_code == 200, response.text


@pytest.mark.parametrize("database", ["postgres", "app"])
def test_a_person_connects_to_sync_only(server: localpg.PgServer, database: str) -> None:
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        _connect(server, "analyst_0", database)
    with _connect(server, "analyst_0") as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("sync",)
    with psycopg.connect(server.admin_url, autocommit=True) as conn:  # the owner still may
        conn.execute(sql.SQL("SELECT 1"))
