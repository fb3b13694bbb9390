"""Session set-up shared by every test: see ``tests/fixtures/stack.py``."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import psycopg
import pytest

from tests.fixtures import stack as test_stack

pytest_plugins: list[str] = []

_STACK: test_stack.TestStack | None = None


def pytest_configure(config: pytest.Config) -> None:
    # Airflow reads its configuration once, at import: the environment must be in place before any
    # test module (or DAG file) imports it, so this runs before collection.
    global _STACK
    if _STACK is None and not hasattr(config, "workerinput"):
        _STACK = test_stack.prepare()


def pytest_unconfigure(config: pytest.Config) -> None:
    if _STACK is not None:
        shutil.rmtree(_STACK.airflow_home, ignore_errors=True)


@pytest.fixture(scope="session")
def stack() -> test_stack.TestStack:
    """The session's PostgreSQL server, databases and Airflow home."""
    assert _STACK is not None
    return _STACK


@pytest.fixture(scope="session")
def sync_dsn(stack: test_stack.TestStack) -> str:
    """The ``sync`` test database, migrated to head once per session."""
    from include.symphonics.db import migrate

    url = stack.url("sync")
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session")
def app_dsn(stack: test_stack.TestStack) -> str:
    """The ``app`` test database (empty: suites that need the app schema apply it)."""
    return stack.url("app")


@pytest.fixture
def scratch_db(stack: test_stack.TestStack, request: pytest.FixtureRequest) -> Iterator[str]:
    """A new empty database for one test, dropped afterwards."""
    name = f"symphonics_scratch_{request.node.name[:30].lower()}".replace("[", "_").replace("]", "_")
    name = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in name)
    stack.server.ensure_databases([name], recreate=True)
    yield stack.server.url(name)
    with psycopg.connect(stack.server.admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
