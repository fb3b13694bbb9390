"""The PostgreSQL selection: the user's server when ``SYMPHONICS_PG_URL`` is set, else the embedded one."""

from __future__ import annotations

import socket
from pathlib import Path

import psycopg
import pytest

from include.symphonics_devstack import localpg
from tests.fixtures.stack import TEST_DATABASES


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_user_url_that_does_not_answer_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(localpg.PG_URL_ENV, f"postgresql://someone:hunter2@127.0.0.1:{_free_port()}")
    with pytest.raises(localpg.PostgresUnavailable) as excinfo:
        localpg.get_server()
    message = str(excinfo.value)
    assert "does not answer" in message
    assert localpg.PG_URL_ENV in message
    assert "hunter2" not in message  # the password never reaches the message
    assert "\n" not in message


def test_a_user_url_is_used_as_given(stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(localpg.PG_URL_ENV, stack.server.url("postgres"))
    server = localpg.get_server()
    assert server.embedded_dir is None
    sync_name = TEST_DATABASES["sync"]
    with psycopg.connect(server.url(sync_name)) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (sync_name,)


@pytest.mark.integration  # starts its own embedded PostgreSQL
def test_embedded_server_survives_a_half_initialised_folder(tmp_path: Path) -> None:
    data = tmp_path / "pg"
    data.mkdir()
    (data / "leftover-from-a-crashed-initdb").write_text("")
    server = localpg.start_embedded(data)
    try:
        assert (data / "PG_VERSION").exists()
        server.ensure_databases(["one", "two"])
        server.ensure_databases(["one", "two"])  # again: nothing to do, no error
        with psycopg.connect(server.url("two")) as conn:
            assert conn.execute("SHOW fsync").fetchone() == ("off",)
        # A second start finds the running server instead of starting another.
        assert localpg.start_embedded(data).admin_url == server.admin_url
    finally:
        assert localpg.stop_embedded(data)
    assert localpg.stop_embedded(data) is False
