"""Session set-up shared by every test: see ``tests/fixtures/stack.py``.

Two lanes. A test that touches PostgreSQL or HTTP requests one of :data:`INTEGRATION_FIXTURES` (directly or through
another fixture) and is marked ``integration`` here, at collection; ``pytest -m "not integration"`` (``make unit``)
runs the rest, which start no server: the PostgreSQL server, the test databases and Airflow's metadata database are
started by the first test that asks for :func:`stack`, never before.
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.fixtures import stack as test_stack

pytest_plugins = ["tests.fixtures.sandbox", "tests.fixtures.airflow_ui"]

#: Fixtures that reach PostgreSQL or a server over loopback HTTP: a test that uses one (even through another
#: fixture) is an integration test.
INTEGRATION_FIXTURES = frozenset(
    {
        "stack",
        "airflow_db",
        "sync_dsn",
        "app_dsn",
        "make_scratch_database",
        "scratch_db",
        "sandbox_server",
        "webhook_receiver",
        "airflow_ui",
        "failed_publish_run",
    }
)

_AIRFLOW_HOME: Path | None = None
_STACK: test_stack.TestStack | None = None


def pytest_configure(config: pytest.Config) -> None:
    # Airflow reads its configuration once, at import: the environment must be in place before any
    # test module (or DAG file) imports it, so this runs before collection. It starts nothing.
    global _AIRFLOW_HOME
    if _AIRFLOW_HOME is None and not hasattr(config, "workerinput"):
        _AIRFLOW_HOME = test_stack.prepare_environment()


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if INTEGRATION_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _AIRFLOW_HOME is not None and _STACK is None:
        shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)
    if _STACK is not None:
        if "airflow.settings" in sys.modules:
            # Close Airflow's pooled connections first: dropping its database under them makes it log errors.
            sys.modules["airflow.settings"].dispose_orm()
        shutil.rmtree(_STACK.airflow_home, ignore_errors=True)
        test_stack.drop_session_databases(_STACK.server)


@pytest.fixture(scope="session")
def stack() -> test_stack.TestStack:
    """The session's PostgreSQL server, databases and Airflow home, started by the first test that needs them."""
    global _STACK
    if _STACK is None:
        assert _AIRFLOW_HOME is not None
        _STACK = test_stack.start(_AIRFLOW_HOME)
    return _STACK


@pytest.fixture(autouse=True)
def _integration_stack(request: pytest.FixtureRequest) -> None:
    """An integration test runs with the stack up (some reach Airflow's database without asking for it)."""
    if request.node.get_closest_marker("integration") is not None:
        request.getfixturevalue("stack")


@pytest.fixture(scope="session")
def airflow_db(stack: test_stack.TestStack) -> test_stack.TestStack:
    """Airflow's metadata database, migrated (for ``dag.test()``, Variables, the REST API)."""
    return stack


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
