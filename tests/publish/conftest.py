"""Fixtures of the publish pipeline's tests: a seeded app database, a clean ledger, the sandbox connection."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from include.symphonics_demo import ExpectedDataset, expected_outcomes
from include.symphonics_demo.generator import seed_database
from tests.fixtures.sandbox import SandboxAdmin

DEMO_SEED = 7
DEMO_INTERVENTIONS = 240

#: The sync tables a publish test starts without (the quota counters too: each test has its own day).
_PIPELINE_TABLES = (
    "symphonics.interventions_ledger",
    "symphonics.publish_watermarks",
    "symphonics.pdl_validations",
    "symphonics.pdl_lookups",
    "symphonics.installer_validations",
    "symphonics.publish_runs",
    "symphonics.api_calls",
    "symphonics.api_tokens",
    "symphonics.quota_class_usage",
    "symphonics.quota_windows",
    "symphonics.subject_keys",
)

# Loopback sandbox with no waiting: generous limits, tiny backoffs, a short breaker cool-down.
FAST_EXTRAS: dict[str, Any] = {
    "requests_per_minute": 100_000,
    "requests_per_day": 1_000_000,
    "backoff_base": 0.001,
    "max_quota_wait": 5.0,
    "max_retries": 5,
    "breaker_failures": 50,
    "breaker_reset": 0.5,
    "timeout": 5.0,
    "connect_timeout": 2.0,
    "allow_insecure_http": True,
}


def clean_pipeline_tables(sync_dsn: str) -> None:
    """Empty the ledger, caches, run summaries and the client's shared state."""
    with psycopg.connect(sync_dsn) as conn:
        conn.execute(f"TRUNCATE {', '.join(_PIPELINE_TABLES)}")


def set_symphonics_connection(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxAdmin, **extra_overrides: Any) -> None:
    """Point ``symphonics_default`` at the sandbox (JSON form of ``AIRFLOW_CONN_*``)."""
    conn = {
        "conn_type": "symphonics",
        "host": sandbox.url,
        "login": sandbox.client_id,
        "password": sandbox.client_secret,
        "extra": {**FAST_EXTRAS, **extra_overrides},
    }
    monkeypatch.setenv("AIRFLOW_CONN_SYMPHONICS_DEFAULT", json.dumps(conn))


@dataclass
class PublishWorld:
    """Everything a publish test drives: databases, sandbox, expected outcome."""

    app_dsn: str
    sync_dsn: str
    sandbox: SandboxAdmin
    expected: ExpectedDataset
    monkeypatch: pytest.MonkeyPatch

    def states(self) -> dict[str, int]:
        """Ledger rows per state."""
        with psycopg.connect(self.sync_dsn) as conn:
            rows = conn.execute("SELECT state, count(*) FROM symphonics.interventions_ledger GROUP BY state").fetchall()
        return {state: int(count) for state, count in rows}

    def rows(self) -> dict[str, dict[str, Any]]:
        """Every ledger row by external id."""
        with psycopg.connect(self.sync_dsn, row_factory=psycopg.rows.dict_row) as conn:
            rows = conn.execute("SELECT * FROM symphonics.interventions_ledger").fetchall()
        return {row["external_id"]: row for row in rows}

    def creates(self) -> list[dict[str, Any]]:
        """Create calls the sandbox received."""
        return [call for call in self.sandbox.calls("/crm/interventions") if call["method"] == "POST"]

    def patches(self) -> list[dict[str, Any]]:
        """PATCH calls the sandbox received."""
        return [call for call in self.sandbox.calls("/crm/interventions") if call["method"] == "PATCH"]

    def partner_external_ids(self) -> list[str]:
        """External ids of the interventions the sandbox holds (one entry per intervention it created)."""
        return [item["external_id"] for item in self.sandbox.interventions()]

    def kill_switch(self, value: str) -> None:
        """Set the Airflow Variable ``symphonics_kill_switch`` (as an environment variable)."""
        self.monkeypatch.setenv("AIRFLOW_VAR_SYMPHONICS_KILL_SWITCH", value)

    def connect_sandbox(self, **extra_overrides: Any) -> None:
        """Re-point the connection with other extras."""
        set_symphonics_connection(self.monkeypatch, self.sandbox, **extra_overrides)


@pytest.fixture(scope="session")
def publish_app_template(stack: Any) -> str:
    """A database seeded once with the demo data set, cloned for each test (CREATE DATABASE … TEMPLATE)."""
    name = f"symphonics_test_{os.getpid()}_publish_template"
    admin = stack.server.admin_url
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    seed_database(stack.server.url(name), interventions=DEMO_INTERVENTIONS, seed=DEMO_SEED)
    return name


@pytest.fixture
def fresh_app_db(stack: Any, publish_app_template: str) -> Iterator[Callable[[], str]]:
    """A copy of the seeded demo database for one test (the test may mutate it)."""
    import uuid

    made: list[str] = []

    def make() -> str:
        name = f"symphonics_test_{os.getpid()}_publish_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(stack.server.admin_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE {publish_app_template}")
        made.append(name)
        return str(stack.server.url(name))

    yield make
    with psycopg.connect(stack.server.admin_url, autocommit=True) as conn:
        for name in made:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def world(
    sync_dsn: str,
    sandbox: SandboxAdmin,
    fresh_app_db: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
    stack: Any,
) -> PublishWorld:
    """A seeded app database behind ``app_db``, an empty ledger, the sandbox behind ``symphonics_default``."""
    from tests.fixtures.stack import airflow_connection_json

    app_dsn = fresh_app_db()
    database = psycopg.conninfo.conninfo_to_dict(app_dsn).get("dbname")
    monkeypatch.setenv("AIRFLOW_CONN_APP_DB", airflow_connection_json(stack.server, str(database)))
    monkeypatch.setenv("AIRFLOW_VAR_SYMPHONICS_KILL_SWITCH", "off")
    clean_pipeline_tables(sync_dsn)
    sandbox.configure(
        rate_limit_per_minute=1_000_000, rate_limit_per_day=10_000_000, processing_delay=3600.0, decision_delay=3600.0
    )
    set_symphonics_connection(monkeypatch, sandbox)
    return PublishWorld(
        app_dsn=app_dsn,
        sync_dsn=sync_dsn,
        sandbox=sandbox,
        expected=expected_outcomes(DEMO_SEED, DEMO_INTERVENTIONS),
        monkeypatch=monkeypatch,
    )


@pytest.fixture
def publish_dag() -> Any:
    """The ``symphonics_publish`` DAG, parsed from its file for each test: ``dag.test(run_conf=...)`` leaves the
    run's conf in the DAG object's params, which the next test's run would otherwise inherit."""
    from airflow.dag_processing.dagbag import DagBag

    from tests.dags.test_dag_integrity import DAGS_DIR

    bag = DagBag(dag_folder=str(DAGS_DIR / "symphonics_publish.py"))
    assert bag.import_errors == {}
    return bag.dags["symphonics_publish"]


def run_pipeline(run_id: str, *, dry_run: bool = False, **params: Any) -> dict[str, Any]:
    """The DAG's steps in order, in this process, without Airflow's task start-up (for the faster tests)."""
    from include.symphonics.publish import steps

    params = {"dry_run": dry_run, **params}
    extracted = steps.run_extract(params, run_id=run_id, run_type="manual", logical_date=None, schedule="*/15 * * * *")
    local = steps.run_prevalidate(run_id=run_id, params=params)
    partner = steps.run_partner_validation(run_id=run_id, params=params)
    published = steps.run_publish(params, run_id=run_id, run_type="manual", schedule="*/15 * * * *")
    return {"extract": extracted, "local": local, "partner": partner, "publish": published}


@pytest.fixture
def as_pipeline_role(stack: Any, world: PublishWorld) -> Iterator[str]:
    """``sync_db`` as a fresh login of the pipeline's role (as production connects it); yields the login.

    ``world.sync_dsn`` stays the owner's, for a test to arrange and inspect.
    """
    from urllib.parse import urlsplit

    from include.symphonics.db import roles
    from tests.fixtures.roles import login_in

    database = psycopg.conninfo.conninfo_to_dict(world.sync_dsn)["dbname"]
    admin = urlsplit(stack.server.admin_url)
    with login_in(stack.server, roles.PIPELINE_ROLE) as (login, password):
        conn = {"conn_type": "postgres", "host": stack.server.socket_dir, "port": admin.port, "schema": database}
        world.monkeypatch.setenv("AIRFLOW_CONN_SYNC_DB", json.dumps({**conn, "login": login, "password": password}))
        yield login


def validate_pipeline(run_id: str, **params: Any) -> dict[str, Any]:
    """The DAG's steps up to the partner's validation (the valid rows left ``ready``), for a test's backlog.

    A dry run no longer does this: it leaves the ledger as it was.
    """
    from include.symphonics.publish import steps

    extracted = steps.run_extract(params, run_id=run_id, run_type="manual", logical_date=None, schedule="*/15 * * * *")
    local = steps.run_prevalidate(run_id=run_id, params=params)
    partner = steps.run_partner_validation(run_id=run_id, params=params)
    return {"extract": extracted, "local": local, "partner": partner}
