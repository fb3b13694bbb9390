"""The health-check DAG end to end with ``dag.test()`` against the test databases."""

from __future__ import annotations

import json
import os
from urllib.parse import quote

import psycopg
import pytest


@pytest.fixture
def partner_connection(sandbox, monkeypatch: pytest.MonkeyPatch):
    """``symphonics_default`` pointing at the test sandbox with its demo credentials."""
    conn = {
        "conn_type": "symphonics",
        "host": sandbox.url,
        "login": sandbox.client_id,
        "password": sandbox.client_secret,
        "extra": {"backoff_base": 0.01, "max_retries": 1},
    }
    monkeypatch.setenv("AIRFLOW_CONN_SYMPHONICS_DEFAULT", json.dumps(conn))
    return sandbox


@pytest.fixture
def healthcheck_dag(sync_dsn: str, partner_connection):
    from airflow.dag_processing.dagbag import DagBag

    from tests.dags.test_dag_integrity import DAGS_DIR

    bag = DagBag(dag_folder=str(DAGS_DIR / "symphonics_healthcheck.py"))
    return bag.dags["symphonics_healthcheck"]


def _checks(sync_dsn: str, run_id: str) -> dict[str, tuple[bool, str]]:
    with psycopg.connect(sync_dsn) as conn:
        rows = conn.execute(
            "SELECT component, ok, detail FROM symphonics.healthchecks WHERE run_id = %s", (run_id,)
        ).fetchall()
    return {component: (ok, detail) for component, ok, detail in rows}


def test_healthy_components_give_a_green_run(healthcheck_dag, sync_dsn: str, partner_connection) -> None:
    run = healthcheck_dag.test()
    assert run.state == "success"
    checks = _checks(sync_dsn, run.run_id)
    assert set(checks) == {"app_db", "sync_db", "symphonics_api"}
    assert all(ok for ok, _ in checks.values())
    assert checks["sync_db"][1].startswith("PostgreSQL 1")
    # The API check costs exactly one token request, and the secret never reaches the stored detail.
    assert [call["path"] for call in partner_connection.calls()] == ["/auth/token"]
    assert partner_connection.client_secret not in checks["symphonics_api"][1]


def test_refused_credentials_turn_the_api_check_red(
    healthcheck_dag, sync_dsn: str, partner_connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = json.loads(os.environ["AIRFLOW_CONN_SYMPHONICS_DEFAULT"])
    conn["password"] = "not-the-right-secret"
    monkeypatch.setenv("AIRFLOW_CONN_SYMPHONICS_DEFAULT", json.dumps(conn))
    run = healthcheck_dag.test()
    assert run.state == "failed"
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["check_symphonics_api"] == "failed"
    assert states["check_sync_db"] == "success"
    ok, detail = _checks(sync_dsn, run.run_id)["symphonics_api"]
    assert ok is False
    assert "not-the-right-secret" not in detail


def test_an_unreachable_database_turns_its_task_red(
    healthcheck_dag, sync_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = json.loads(os.environ["AIRFLOW_CONN_APP_DB"])
    broken["host"] = "/nonexistent-socket-dir"
    monkeypatch.setenv("AIRFLOW_CONN_APP_DB", json.dumps(broken))
    run = healthcheck_dag.test()
    assert run.state == "failed"
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states == {
        "check_params": "success",
        "check_app_db": "failed",
        "check_sync_db": "success",
        "check_symphonics_api": "success",
    }
    checks = _checks(sync_dsn, run.run_id)
    assert checks["app_db"][0] is False
    assert "nonexistent-socket-dir" in checks["app_db"][1]


def test_a_run_without_a_logical_date_checks_everything(healthcheck_dag, sync_dsn: str, partner_connection) -> None:
    run = healthcheck_dag.test(logical_date=None)

    assert run.state == "success"
    assert run.logical_date is None
    checks = _checks(sync_dsn, run.run_id)
    assert set(checks) == {"app_db", "sync_db", "symphonics_api"}
    assert all(ok for ok, _ in checks.values())


@pytest.fixture
def alert_listener(sync_dsn: str, monkeypatch: pytest.MonkeyPatch):
    """``SYMPHONICS_ALERT_CONN_ID`` names an ``apprise`` connection whose one target is a JSON webhook on loopback."""
    from tests.fixtures.listener import serve_listener

    with psycopg.connect(sync_dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM symphonics.alerts WHERE dag_id = 'symphonics_healthcheck'")
    listener = serve_listener(200)
    channel = next(listener)
    conn = {"conn_type": "apprise", "extra": {"config": {"path": f"json://127.0.0.1:{channel.port}/alerts"}}}
    monkeypatch.setenv("AIRFLOW_CONN_SYMPHONICS_ALERTS_HEALTH", json.dumps(conn))
    monkeypatch.setenv("SYMPHONICS_ALERT_CONN_ID", "symphonics_alerts_health")
    yield channel
    listener.close()


def test_a_failed_run_alerts_once_after_its_last_try_whichever_tasks_fail(
    healthcheck_dag, sync_dsn: str, partner_connection, alert_listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The DAGs' ``on_failure_callback`` (``DEFAULT_ARGS``): two tasks fail, each after its retries; one alert."""
    broken = json.loads(os.environ["AIRFLOW_CONN_APP_DB"])
    broken["host"] = "/nonexistent-socket-dir"
    monkeypatch.setenv("AIRFLOW_CONN_APP_DB", json.dumps(broken))
    conn = json.loads(os.environ["AIRFLOW_CONN_SYMPHONICS_DEFAULT"])
    conn["password"] = "not-the-right-secret"
    monkeypatch.setenv("AIRFLOW_CONN_SYMPHONICS_DEFAULT", json.dumps(conn))

    run = healthcheck_dag.test()

    tries = {ti.task_id: (ti.state, ti.try_number) for ti in run.get_task_instances()}
    assert run.state == "failed"
    assert tries["check_app_db"] == ("failed", 3)  # retried twice: the alert waits for the last try
    assert tries["check_symphonics_api"] == ("failed", 3)
    with psycopg.connect(sync_dsn) as db:
        rows = db.execute(
            "SELECT kind, severity, run_id, details, notified_via FROM symphonics.alerts"
            " WHERE dag_id = 'symphonics_healthcheck'"
        ).fetchall()
    assert len(rows) == 1, rows
    kind, severity, run_id, details, notified_via = rows[0]
    assert (kind, severity, run_id) == ("failed_run", "critical", run.run_id)
    assert details["first_failed_task"] in {"check_app_db", "check_symphonics_api"}
    assert details["try_number"] == 3
    assert details["error"]  # the exception's class, never its message
    run_path = f"/dags/symphonics_healthcheck/runs/{quote(run.run_id)}/tasks/{details['first_failed_task']}"
    assert run_path in details["log_url"]  # the failed try's log in the Airflow UI
    assert notified_via == ["table", "log", "symphonics_alerts_health"]
    path, _, body = alert_listener.received.get(timeout=5)
    assert (path, body["title"], body["type"]) == ("/alerts", "[critical] failed_run", "failure")
    assert f"run: {run.run_id}" in body["message"].splitlines()
    assert "not-the-right-secret" not in json.dumps(body)
    assert alert_listener.received.empty()  # one notice for the run, none per retry or per task
