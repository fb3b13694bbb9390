"""Fixtures of the client's suite: the sandbox (real HTTP on loopback) and clients on the ``sync`` database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from cryptography.fernet import Fernet

from include.symphonics.client import ClassQuota, ClientSettings, SymphonicsClient
from tests.fixtures.sandbox import SandboxAdmin

#: Every class may use the whole day, unless a test is about shares.
OPEN_CLASSES = {"publish": ClassQuota(1.0), "reconcile": ClassQuota(1.0), "ops": ClassQuota(1.0)}


@pytest.fixture(scope="session")
def fernet_key() -> str:
    """The key that encrypts the shared token in these tests."""
    return Fernet.generate_key().decode()


@pytest.fixture
def clean_sync(sync_dsn: str) -> str:
    """The ``sync`` database without any quota, token or call left by an earlier test."""
    with psycopg.connect(sync_dsn, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE symphonics.api_calls, symphonics.api_tokens, symphonics.quota_class_usage, "
            "symphonics.quota_windows"
        )
    return sync_dsn


MakeClient = Callable[..., SymphonicsClient]


@pytest.fixture
def make_client(sandbox: SandboxAdmin, clean_sync: str, fernet_key: str) -> Iterator[MakeClient]:
    """Build clients of the sandbox sharing state in the ``sync`` database; short waits; closed afterwards."""
    clients: list[SymphonicsClient] = []

    def build(**overrides: Any) -> SymphonicsClient:
        settings: dict[str, Any] = {
            "backoff_base": 0.01,
            "backoff_max": 0.05,
            "max_quota_wait": 2.0,
            "priority_classes": OPEN_CLASSES,
            "read_timeout": 5.0,
        }
        settings.update(overrides)
        client = SymphonicsClient.with_shared_state(
            ClientSettings(sandbox.url, sandbox.client_id, sandbox.client_secret, **settings),
            clean_sync,
            Fernet(fernet_key.encode()),
        )
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


def api_calls(dsn: str) -> list[dict[str, Any]]:
    """The rows of ``symphonics.api_calls``, oldest first."""
    with psycopg.connect(dsn) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return list(cur.execute("SELECT * FROM symphonics.api_calls ORDER BY id"))
