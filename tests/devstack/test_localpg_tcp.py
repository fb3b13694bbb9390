"""The embedded server on loopback TCP, as ``make run`` opens it for analysts: password only, never trust."""

from __future__ import annotations

import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from include.symphonics.db import migrate, roles
from include.symphonics_devstack import localpg

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def tcp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[localpg.PgServer]:
    data = tmp_path_factory.mktemp("tcp") / "pg"
    server = localpg.start_embedded(data, keep_running=False, tcp_port=_free_port())
    try:
        server.ensure_databases(["sync"])
        migrate.upgrade(server.url("sync"))
        with psycopg.connect(server.admin_url, autocommit=True) as conn:
            roles.ensure_login(conn, roles.DEMO_ANALYST_LOGIN, roles.ANALYST_ROLE, roles.DEMO_ANALYST_PASSWORD)
        yield server
    finally:
        localpg.stop_embedded(data)


def _analyst_url(server: localpg.PgServer) -> str:
    return server.tcp_url("sync", roles.DEMO_ANALYST_LOGIN, roles.DEMO_ANALYST_PASSWORD)


def test_the_demo_analyst_reads_analytics_over_tcp_and_nothing_else(tcp_server: localpg.PgServer) -> None:
    url = _analyst_url(tcp_server)
    assert url.startswith(f"postgresql://{roles.DEMO_ANALYST_LOGIN}:")
    assert f"@127.0.0.1:{tcp_server.tcp_port}/sync" in url
    with psycopg.connect(url, connect_timeout=5) as conn:
        assert conn.execute("SELECT inet_server_addr()::text").fetchone() == ("127.0.0.1/32",)
        for view in ("interventions_current", "rejections", "time_to_approval", "quota_daily"):
            conn.execute(f"SELECT * FROM analytics.{view} LIMIT 1").fetchall()  # noqa: S608 (the test's names)
        conn.execute("SELECT * FROM analytics.reconciliation_snapshots LIMIT 1").fetchall()
    for table in ("interventions_ledger", "status_history", "api_tokens"):
        with (
            psycopg.connect(url, connect_timeout=5) as conn,
            pytest.raises(psycopg.errors.InsufficientPrivilege),
        ):
            conn.execute(f"SELECT * FROM symphonics.{table} LIMIT 1")  # noqa: S608 (the test's names)
    with psycopg.connect(url, connect_timeout=5) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("CREATE TABLE analytics.planted (id int)")


@pytest.mark.parametrize("password", [None, "", "postgres", "wrong"])
def test_postgres_over_tcp_needs_its_generated_password(tcp_server: localpg.PgServer, password: str | None) -> None:
    auth = "postgres" if password is None else f"postgres:{password}"
    with pytest.raises(psycopg.OperationalError) as excinfo:
        psycopg.connect(f"postgresql://{auth}@127.0.0.1:{tcp_server.tcp_port}/postgres", connect_timeout=5)
    message = str(excinfo.value)
    assert "password" in message


def test_the_generated_superuser_password_is_private_and_works(tcp_server: localpg.PgServer) -> None:
    assert tcp_server.embedded_dir is not None
    folder = localpg.secrets_dir(tcp_server.embedded_dir)
    secret = folder / "postgres.password"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    password = localpg.superuser_password(tcp_server.embedded_dir)
    assert len(password) >= 24
    url = tcp_server.tcp_url("postgres", "postgres", password)
    with psycopg.connect(url, connect_timeout=5) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("postgres",)


def test_the_socket_keeps_working_and_the_hba_trusts_no_tcp_client(tcp_server: localpg.PgServer) -> None:
    assert tcp_server.embedded_dir is not None
    with psycopg.connect(tcp_server.url("sync"), connect_timeout=5) as conn:
        assert conn.execute("SELECT inet_server_addr()").fetchone() == (None,)  # the unix socket
    hba_lines = [
        line.split()
        for line in Path(tcp_server.embedded_dir, "pg_hba.conf").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert [line[-1] for line in hba_lines if line[0] == "host"] == ["scram-sha-256", "scram-sha-256"]
    assert all(line[0] in ("local", "host") for line in hba_lines)


def test_a_bad_tcp_port_setting_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(localpg.PG_TCP_PORT_ENV, "5432x")
    with pytest.raises(localpg.PostgresUnavailable, match="SYMPHONICS_PG_TCP_PORT"):
        localpg.tcp_port_from_environment()
    monkeypatch.delenv(localpg.PG_TCP_PORT_ENV)
    assert localpg.tcp_port_from_environment() == localpg.DEFAULT_TCP_PORT != 5432
