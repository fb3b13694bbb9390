"""Session set-up shared by every test: see ``tests/fixtures/stack.py``."""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
from psycopg import sql

from tests.fixtures import stack as test_stack

pytest_plugins = ["tests.fixtures.sandbox"]

_STACK: test_stack.TestStack | None = None


def pytest_configure(config: pytest.Config) -> None:
    # Airflow reads its configuration once, at import: the environment must be in place before any
    # test module (or DAG file) imports it, so this runs before collection.
    global _STACK
    if _STACK is None and not hasattr(config, "workerinput"):
        _STACK = test_stack.prepare()


def pytest_unconfigure(config: pytest.Config) -> None:
    if _STACK is not None:
        if "airflow.settings" in sys.modules:
            # Close Airflow's pooled connections first: dropping its database under them makes it log errors.
            sys.modules["airflow.settings"].dispose_orm()
        shutil.rmtree(_STACK.airflow_home, ignore_errors=True)
        test_stack.drop_session_databases(_STACK.server)


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
def make_scratch_database(stack: test_stack.TestStack) -> Iterator[Callable[[], str]]:
    """Factory of empty databases on the test server (returns each one's URL); dropped when the test ends."""
    created: list[str] = []

    def create() -> str:
        name = f"symphonics_scratch_{os.getpid()}_{uuid.uuid4().hex[:12]}"
        stack.server.ensure_databases([name])
        created.append(name)
        return stack.server.url(name)

    yield create
    with psycopg.connect(stack.server.admin_url, autocommit=True) as conn:
        for name in created:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def scratch_db(make_scratch_database: Callable[[], str]) -> str:
    """One new empty database for one test, dropped afterwards."""
    return make_scratch_database()
