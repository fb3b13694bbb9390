"""A whole Airflow on the test databases: api-server, scheduler (LocalExecutor) and dag-processor, with the
project's DAGs and plugins, a seeded app database, a migrated ``sync`` database and the sandbox behind
``symphonics_default``. Every listener is on 127.0.0.1; the processes are stopped when this folder's tests end.

The DAGs' schedules are set to a date that never comes before the test ends (29 February), so only the runs a
test triggers exist. Ports are free ones unless ``SYMPHONICS_JOURNEY_API_PORT`` / ``SYMPHONICS_JOURNEY_LOG_PORT``
name them.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from psycopg import sql

from include.symphonics.db import roles
from include.symphonics_demo.generator import seed_database
from include.symphonics_devstack import localpg
from tests.fixtures.roles import as_login, login_in
from tests.fixtures.sandbox import SandboxAdmin, SandboxProcess, free_port
from tests.fixtures.stack import TestStack, airflow_connection_json
from tests.publish.conftest import FAST_EXTRAS

#: A schedule that does not fire during a test (and whose last tick is before the DAGs' start date).
NEVER = "0 0 29 2 *"
DEMO_INTERVENTIONS = 40
COMPONENTS = ("dag-processor", "scheduler", "api-server")
#: Every DAG of the project: the stack is ready when the api-server serves them all.
DAG_FILES = sorted((localpg.PROJECT_ROOT / "dags").glob("symphonics_*.py"))


@dataclass
class AirflowStack:
    """The running stack: its URL, the admin's password, the databases and the sandbox."""

    base_url: str
    password: str
    app_dsn: str
    sync_dsn: str
    sandbox: SandboxAdmin
    home: Path

    def token(self) -> str:
        """A JWT for ``admin`` from ``POST /auth/token``."""
        response = requests.post(
            f"{self.base_url}/auth/token", json={"username": "admin", "password": self.password}, timeout=30
        )
        assert response.status_code == 201, response.text
        return str(response.json()["access_token"])

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """A call to the REST API as ``admin``."""
        headers = {"Authorization": f"Bearer {self.token()}", **kwargs.pop("headers", {})}
        return requests.request(method, f"{self.base_url}/api/v2{path}", headers=headers, timeout=30, **kwargs)

    def wait_for_run(self, dag_id: str, run_id: str, seconds: float = 240) -> dict[str, Any]:
        """The run once it is finished (success or failed)."""
        deadline = time.monotonic() + seconds
        while True:
            run = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}").json()
            if run.get("state") in ("success", "failed"):
                return dict(run)
            if time.monotonic() > deadline:
                logs = "\n".join(
                    f"== {name}\n{(self.home / f'{name}.log').read_text(errors='replace')[-2000:]}"
                    for name in COMPONENTS
                )
                pytest.fail(f"{dag_id} {run_id} still {run.get('state')} after {seconds:.0f} s\n{logs}")
            time.sleep(1)

    def task_states(self, dag_id: str, run_id: str) -> dict[str, tuple[str | None, int]]:
        """Each task's state and try number."""
        listing = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances").json()
        return {ti["task_id"]: (ti["state"], int(ti["try_number"])) for ti in listing["task_instances"]}


def _port(variable: str) -> int:
    value = os.environ.get(variable, "").strip()
    return int(value) if value else free_port()


def _scratch(stack: TestStack, role: str) -> str:
    # The session's naming (pid in the name): dropped with the session's databases even after a crash.
    name = f"symphonics_scratch_{os.getpid()}_journey_{role}"
    stack.server.ensure_databases([name], recreate=True)
    return name


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture(scope="package")
def airflow_stack(stack: TestStack, sandbox_server: SandboxProcess) -> Iterator[AirflowStack]:
    """The running stack, shared by this folder's modules.

    Its components reach ``sync`` as ``make run``'s do: the DAGs (``sync_db``) as a login of the pipeline's role, the
    dashboard as a login of the dashboard's role; never as the owner, which only migrates and arranges.
    """
    with (
        login_in(stack.server, roles.PIPELINE_ROLE) as pipeline,
        login_in(stack.server, roles.DASHBOARD_ROLE) as dashboard,
    ):
        yield from _airflow_stack(stack, sandbox_server, pipeline, dashboard)


def _airflow_stack(
    stack: TestStack, sandbox_server: SandboxProcess, pipeline: tuple[str, str], dashboard: tuple[str, str]
) -> Iterator[AirflowStack]:
    app_db, sync_db = _scratch(stack, "app"), f"symphonics_scratch_{os.getpid()}_journey_sync"
    # A metadata database of its own: the session's holds what other suites' dag.test() runs left behind (a
    # publish run left running there would hold this stack's runs queued: one active run at a time). Both are
    # copies of the session's migrated templates.
    airflow_db = stack.airflow_database(f"symphonics_scratch_{os.getpid()}_journey_airflow")
    app_dsn, sync_dsn = stack.server.url(app_db), stack.sync_database(sync_db)
    seed_database(app_dsn, interventions=DEMO_INTERVENTIONS, seed=7)
    sandbox = SandboxAdmin(sandbox_server.url)
    sandbox.reset()
    sandbox.configure(
        rate_limit_per_minute=1_000_000, rate_limit_per_day=10_000_000, processing_delay=3600.0, decision_delay=3600.0
    )
    port, log_port = _port("SYMPHONICS_JOURNEY_API_PORT"), _port("SYMPHONICS_JOURNEY_LOG_PORT")
    password = secrets.token_urlsafe(12)
    home = Path(tempfile.mkdtemp(prefix="symphonics-journey-airflow-"))
    (home / "simple_auth_manager_passwords.json.generated").write_text(json.dumps({"admin": password}))
    partner = {
        "conn_type": "symphonics",
        "host": sandbox.url,
        "login": sandbox.client_id,
        "password": sandbox.client_secret,
        "extra": FAST_EXTRAS,
    }
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": stack.server.sqlalchemy_url(airflow_db),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base_url}/execution/",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__BASE_URL": base_url,
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(log_port),
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW_CONN_SYNC_DB": json.dumps(
            {
                **json.loads(airflow_connection_json(stack.server, sync_db)),
                "login": pipeline[0],
                "password": pipeline[1],
            }
        ),
        "SYMPHONICS_DASHBOARD_DSN": as_login(sync_dsn, *dashboard),
        "AIRFLOW_CONN_APP_DB": airflow_connection_json(stack.server, app_db),
        "AIRFLOW_CONN_SYMPHONICS_DEFAULT": json.dumps(partner),
        "AIRFLOW_VAR_SYMPHONICS_KILL_SWITCH": "off",
        "SYMPHONICS_PUBLISH_SCHEDULE": NEVER,
        "SYMPHONICS_RECONCILE_SCHEDULE": NEVER,
        "SYMPHONICS_HEALTHCHECK_SCHEDULE": NEVER,
    }
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for component in COMPONENTS:
            argv = [sys.executable, "-m", "airflow", component]
            if component == "api-server":
                argv += ["--port", str(port), "--host", "127.0.0.1"]
            with (home / f"{component}.log").open("wb") as log:
                processes.append(
                    subprocess.Popen(
                        argv,
                        env=env,
                        cwd=localpg.PROJECT_ROOT,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        running = AirflowStack(base_url, password, app_dsn, sync_dsn, sandbox, home)
        deadline = time.monotonic() + 120
        while True:
            for component, process in zip(COMPONENTS, processes, strict=True):
                if process.poll() is not None:
                    log_text = (home / f"{component}.log").read_text(errors="replace")[-3000:]
                    pytest.fail(f"airflow {component} exited ({process.returncode}):\n{log_text}")
            try:
                ready = running.api("GET", "/dags", params={"dag_id_pattern": "symphonics_%"})
                if ready.status_code == 200 and ready.json()["total_entries"] >= len(DAG_FILES):
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the DAGs were not served within 120 s:\n{(home / 'api-server.log').read_text()[-3000:]}")
            time.sleep(1)
        yield running
    finally:
        for process in reversed(processes):
            _stop(process)
        sandbox.http.close()
        shutil.rmtree(home, ignore_errors=True)
        with psycopg.connect(stack.server.admin_url, autocommit=True) as conn:
            for name in (app_db, sync_db, airflow_db):
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
