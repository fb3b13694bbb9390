"""End to end under a real scheduler, dag-processor, triggerer and api-server: completions reach the partner.

The publish schedule is moved to once a year, so only the completion watcher can start a run (until the last
test, which stops the triggerer and sets a one-minute schedule to show the safety net). The app's seed is
published once in this process first, so every new job here is a copy whose PDL and installer are cached: one
partner call each, its create.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from include.symphonics_demo.live import complete, schedule_copies
from include.symphonics_demo.plan import external_id_of
from tests.fixtures.sandbox import SandboxAdmin, SandboxProcess, stop_process, wait_until
from tests.publish.conftest import FAST_EXTRAS, clean_pipeline_tables, run_pipeline

# A real Airflow starts here: its components take minutes to come up on a loaded 2-core machine.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]

ROOT = Path(__file__).resolve().parents[2]
DAG_ID = "symphonics_publish"
# The ports this suite may use on loopback (the api-server and Airflow's two log servers).
API_PORT = int(os.environ.get("SYMPHONICS_TEST_AIRFLOW_PORT", "8713"))
WORKER_LOG_PORT = int(os.environ.get("SYMPHONICS_TEST_WORKER_LOG_PORT", "8714"))
TRIGGER_LOG_PORT = int(os.environ.get("SYMPHONICS_TEST_TRIGGER_LOG_PORT", "8715"))
FAR_AWAY = "0 0 31 12 *"  # once a year, its last tick before START_DATE: it cannot stand in for the watcher
CREATE_TIMEOUT = 240.0  # a loaded shared machine: a bound on waiting, not a figure (bench/freshness.py measures)


@dataclass
class LiveAirflow:
    """Airflow's components as subprocesses on the test stack's databases; what they logged."""

    env: dict[str, str]
    workdir: Path
    airflow_url: str
    sync_url: str
    app_url: str
    sandbox: SandboxAdmin
    templates: list[int]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, component: str, **overrides: str) -> None:
        argv = [sys.executable, "-m", "airflow", component]
        if component == "api-server":
            argv += ["--port", str(API_PORT), "--host", "127.0.0.1"]
        log = (self.workdir / f"{component}.log").open("ab")
        self.processes[component] = subprocess.Popen(
            argv, env={**self.env, **overrides}, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )

    def stop(self, component: str) -> None:
        process = self.processes.pop(component, None)
        if process is not None:
            stop_process(process)

    def log(self, component: str) -> str:
        return (self.workdir / f"{component}.log").read_text(encoding="utf-8", errors="replace")

    def runs(self, since: datetime | None = None) -> list[dict[str, Any]]:
        with psycopg.connect(self.airflow_url, row_factory=dict_row) as conn:
            return conn.execute(
                "SELECT run_id, run_type, state, queued_at FROM dag_run WHERE dag_id = %s AND queued_at >= %s "
                "ORDER BY queued_at",
                (DAG_ID, since or datetime(1970, 1, 1)),
            ).fetchall()

    def task_states(self, run_id: str) -> dict[str, str | None]:
        with psycopg.connect(self.airflow_url) as conn:
            rows = conn.execute(
                "SELECT task_id, state FROM task_instance WHERE dag_id = %s AND run_id = %s", (DAG_ID, run_id)
            ).fetchall()
        return {task_id: state for task_id, state in rows}

    def now(self) -> datetime:
        with psycopg.connect(self.airflow_url) as conn:
            return conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]

    def watcher(self) -> dict[str, Any]:
        with psycopg.connect(self.sync_url, row_factory=dict_row) as conn:
            row = conn.execute(
                "SELECT * FROM symphonics.completion_watchers WHERE watcher = 'symphonics_completions'"
            ).fetchone()
        return row or {}

    def book(self, count: int) -> list[int]:
        with psycopg.connect(self.app_url) as conn:
            return schedule_copies(conn, self.templates, count)

    def complete(self, intervention_id: int) -> None:
        with psycopg.connect(self.app_url) as conn:
            complete(conn, intervention_id)

    def creates_of(self, ids: list[int]) -> dict[str, int]:
        """How many times the partner holds each of ``ids`` (by external id)."""
        wanted = {external_id_of(i) for i in ids}
        counts = dict.fromkeys(wanted, 0)
        for item in self.sandbox.interventions():
            if item["external_id"] in wanted:
                counts[item["external_id"]] += 1
        return counts

    def wait_created(self, ids: list[int], what: str) -> dict[str, int]:
        return wait_until(
            lambda: (c := self.creates_of(ids)) and all(c.values()) and c, what, timeout=CREATE_TIMEOUT, interval=1.0
        )

    def wait_runs_done(self, since: datetime) -> list[dict[str, Any]]:
        wait_until(
            lambda: all(run["state"] not in ("queued", "running") for run in self.runs(since)),
            "the publish runs ended",
            timeout=CREATE_TIMEOUT,
            interval=1.0,
        )
        return self.runs(since)

    def set_kill_switch(self, value: str) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "airflow", "variables", "set", "symphonics_kill_switch", value],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-2000:]


def _wait_http(url: str, timeout: float) -> None:
    def answers() -> bool:
        with (
            contextlib.suppress(urllib.error.URLError, OSError),
            urllib.request.urlopen(url, timeout=5) as response,  # noqa: S310 (loopback URL we built)
        ):
            return bool(response.status < 500)
        return False

    wait_until(answers, f"{url} answers", timeout=timeout, interval=1.0)


@pytest.fixture(scope="module")
def live(stack: Any, sync_dsn: str, publish_app_template: str, sandbox_server: SandboxProcess) -> Iterator[LiveAirflow]:
    """The seed published once, then api-server, scheduler, dag-processor and triggerer running on it."""
    from tests.fixtures.stack import airflow_connection_json

    app_name = f"symphonics_test_{os.getpid()}_e2e_{uuid.uuid4().hex[:8]}"
    # A metadata database of its own: the session's holds what other suites' dag.test() runs left behind.
    airflow_name = f"{app_name}_airflow"
    with psycopg.connect(stack.server.admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {app_name} TEMPLATE {publish_app_template}")
    stack.airflow_database(airflow_name)  # migrated: a copy of the session's before any run
    clean_pipeline_tables(sync_dsn)
    with psycopg.connect(sync_dsn) as conn:
        conn.execute("DELETE FROM symphonics.completion_watchers")
    sandbox = SandboxAdmin(sandbox_server.url)
    sandbox.reset()
    sandbox.configure(
        rate_limit_per_minute=1_000_000, rate_limit_per_day=10_000_000, processing_delay=3600.0, decision_delay=3600.0
    )
    connection = json.dumps(
        {
            "conn_type": "symphonics",
            "host": sandbox.url,
            "login": sandbox.client_id,
            "password": sandbox.client_secret,
            "extra": FAST_EXTRAS,
        }
    )
    overrides = {
        "AIRFLOW_CONN_APP_DB": airflow_connection_json(stack.server, app_name),
        "AIRFLOW_CONN_SYMPHONICS_DEFAULT": connection,
    }
    saved = {key: os.environ.get(key) for key in (*overrides, "AIRFLOW_VAR_SYMPHONICS_KILL_SWITCH")}
    os.environ.update(overrides)
    os.environ.pop("AIRFLOW_VAR_SYMPHONICS_KILL_SWITCH", None)  # the Variable in the metadata database decides
    workdir = Path(tempfile.mkdtemp(prefix="symphonics-e2e-"))
    dags = workdir / "dags"
    dags.mkdir()
    (dags / f"{DAG_ID}.py").symlink_to(ROOT / "dags" / f"{DAG_ID}.py")
    env = {
        **os.environ,
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": stack.server.sqlalchemy_url(airflow_name),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{API_PORT}/execution/",
        "AIRFLOW__API__PORT": str(API_PORT),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{API_PORT}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(workdir / "task-logs"),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(WORKER_LOG_PORT),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(TRIGGER_LOG_PORT),
        "AIRFLOW__CORE__PARALLELISM": "4",
        "SYMPHONICS_PUBLISH_SCHEDULE": FAR_AWAY,
        "SYMPHONICS_WATCHER_POLL_SECONDS": "1",
    }
    live = LiveAirflow(
        env=env,
        workdir=workdir,
        airflow_url=stack.server.url(airflow_name),
        sync_url=sync_dsn,
        app_url=stack.server.url(app_name),
        sandbox=sandbox,
        templates=[],
    )
    try:
        # The seed, once, in this process: the watermark and the validation caches are then in place.
        run_pipeline("e2e-seed")
        with psycopg.connect(sync_dsn) as conn:
            rows = conn.execute(
                "SELECT app_intervention_id FROM symphonics.interventions_ledger WHERE state = 'published' "
                "ORDER BY id LIMIT 20"
            ).fetchall()
        live.templates = [int(row[0]) for row in rows]
        assert live.templates, "the seed published nothing"
        for component in ("api-server", "dag-processor", "scheduler", "triggerer"):
            live.start(component)
        _wait_http(f"http://127.0.0.1:{API_PORT}/api/v2/monitor/health", 300)
        wait_until(lambda: live.watcher().get("last_probe_at"), "the watcher probes", timeout=300, interval=1.0)
        yield live
    finally:
        for component in list(live.processes):
            live.stop(component)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        with psycopg.connect(stack.server.admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {app_name} WITH (FORCE)")
            conn.execute(f"DROP DATABASE IF EXISTS {airflow_name} WITH (FORCE)")


def test_completions_one_by_one_are_each_created_once(live: LiveAirflow) -> None:
    since = live.now()
    jobs = live.book(3)
    for job in jobs:
        live.complete(job)
        live.wait_created([job], f"job {job} created at the partner")
    assert live.creates_of(jobs) == dict.fromkeys((external_id_of(j) for j in jobs), 1)
    runs = live.wait_runs_done(since)
    # Only the watcher can have started them: the schedule is once a year.
    assert runs
    assert {run["run_type"] for run in runs} == {"asset_triggered"}
    assert all(run["state"] == "success" for run in runs)
    # Each took the event path: one task did the steps, the step-by-step tasks were skipped.
    for run in runs:
        states = live.task_states(run["run_id"])
        assert (states.pop("choose_path"), states.pop("fast_publish")) == ("success", "success"), run["run_id"]
        assert set(states.values()) == {"skipped"}, (run["run_id"], states)


def test_a_burst_of_50_makes_at_most_three_runs(live: LiveAirflow) -> None:
    jobs = live.book(50)
    time.sleep(3)  # the bookings are passed over first (they never start a run)
    since = live.now()
    for job in jobs:
        live.complete(job)
    created = live.wait_created(jobs, "the burst created at the partner")
    assert set(created.values()) == {1}
    runs = live.wait_runs_done(since)
    assert 1 <= len(runs) <= 3, runs
    assert live.creates_of(jobs) == dict.fromkeys((external_id_of(j) for j in jobs), 1)


def test_kill_switch_stops_partner_calls_not_the_watcher(live: LiveAirflow) -> None:
    held, released = live.book(2)
    live.set_kill_switch("on")
    try:
        signals = int(live.watcher()["signals"])
        since = live.now()
        live.complete(held)
        wait_until(lambda: int(live.watcher()["signals"]) > signals, "the watcher signals", timeout=60, interval=1.0)
        wait_until(lambda: live.runs(since), "a run starts on the watcher's event", timeout=CREATE_TIMEOUT, interval=1)
        runs = live.wait_runs_done(since)
        assert [run["state"] for run in runs] == ["success"] * len(runs)
        assert live.creates_of([held]) == {external_id_of(held): 0}
    finally:
        live.set_kill_switch("off")
    # The next completion's run sends both, each once.
    live.complete(released)
    live.wait_created([held, released], "both created once the kill switch is off")
    assert set(live.creates_of([held, released]).values()) == {1}


def test_app_database_down_is_logged_and_recovers_without_a_run_storm(live: LiveAirflow, stack: Any) -> None:
    database = psycopg.conninfo.conninfo_to_dict(live.app_url)["dbname"]
    (job,) = live.book(1)
    errors = int(live.watcher()["errors"])
    since = live.now()
    with psycopg.connect(stack.server.admin_url, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (database,))
    try:
        wait_until(lambda: int(live.watcher()["errors"]) > errors, "the watcher records the outage", timeout=60)
        time.sleep(15)
        assert live.runs(since) == [], "the outage started runs"
        assert "probe failed" in live.log("triggerer")
    finally:
        with psycopg.connect(stack.server.admin_url, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
    live.complete(job)
    live.wait_created([job], "created after the outage")
    runs = live.wait_runs_done(since)
    assert 1 <= len(runs) <= 2, runs
    assert live.creates_of([job]) == {external_id_of(job): 1}


def test_with_the_triggerer_stopped_the_schedule_still_publishes(live: LiveAirflow) -> None:
    live.stop("triggerer")
    live.stop("dag-processor")
    # The safety net, shortened for the test: every minute.
    live.start("dag-processor", SYMPHONICS_PUBLISH_SCHEDULE="* * * * *")
    (job,) = live.book(1)
    since = live.now()
    live.complete(job)
    probed = live.watcher()["last_probe_at"]
    live.wait_created([job], "created by a scheduled run")
    runs = live.wait_runs_done(since)
    assert "scheduled" in {run["run_type"] for run in runs}
    assert "asset_triggered" not in {run["run_type"] for run in runs}
    assert live.creates_of([job]) == {external_id_of(job): 1}
    # Nothing probed meanwhile: the watcher was down, the schedule did it.
    assert live.watcher()["last_probe_at"] == probed
