"""The connection strings the project builds from an Airflow connection carry every libpq keyword of its extras,
as ``PostgresHook.get_conn`` passes them (the same extras ignored), and refuse an unknown one by name."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from psycopg.conninfo import conninfo_to_dict

from include.symphonics.db import IGNORED_EXTRAS, _conninfo, with_options


def _connection(**extra: Any) -> Any:
    return SimpleNamespace(
        host="db.internal", port=5432, login="sync_pipeline", password="s3cret", schema="sync", extra_dejson=extra
    )


def test_every_libpq_extra_reaches_the_connection_string() -> None:
    extras = {
        "sslmode": "verify-full",
        "sslrootcert": "/etc/ssl/ca.pem",
        "sslcert": "/etc/ssl/client.pem",
        "sslkey": "/etc/ssl/client.key",
        "options": "-c search_path=symphonics",
        "keepalives": True,
        "keepalives_idle": 30,
        "target_session_attrs": "read-write",
        "application_name": "symphonics",
        "connect_timeout": 5,
    }
    params = conninfo_to_dict(_conninfo(_connection(**extras), "sync_db"))

    assert params == {
        "dbname": "sync",
        "host": "db.internal",
        "port": "5432",
        "user": "sync_pipeline",
        "password": "s3cret",
        **{key: str(value) for key, value in extras.items() if key != "keepalives"},
        "keepalives": "1",
    }


def test_the_extras_postgres_hook_ignores_are_ignored_here_too() -> None:
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    assert frozenset(PostgresHook.ignored_extra_options) == IGNORED_EXTRAS
    params = conninfo_to_dict(_conninfo(_connection(cursor="dictcursor", sqlalchemy_scheme="postgresql"), "sync_db"))
    assert "cursor" not in params
    assert "sqlalchemy_scheme" not in params


def test_an_unknown_extra_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"connection 'sync_db': extra 'sslrootcertificate' is not a libpq"):
        _conninfo(_connection(sslmode="verify-full", sslrootcertificate="/etc/ssl/ca.pem"), "sync_db")


def test_iam_is_refused_rather_than_dropped() -> None:
    with pytest.raises(ValueError, match="'iam'"):
        _conninfo(_connection(iam=True), "sync_db")


def test_read_only_options_come_after_the_connections_own() -> None:
    own = _conninfo(_connection(options="-c search_path=symphonics"), "sync_db")
    params = conninfo_to_dict(with_options(own, "-c default_transaction_read_only=on"))
    assert params["options"] == "-c search_path=symphonics -c default_transaction_read_only=on"
    bare = conninfo_to_dict(with_options("postgresql://u@h/sync", "-c x=1"))
    assert (bare["options"], bare["dbname"]) == ("-c x=1", "sync")
