"""Deadline alerts: a publish run that misses its deadline while rows wait and nothing finished raises
``publish_stalled``; a reconcile run not done by the configured hour raises ``reconcile_late``. The callbacks are
run as Airflow's executor runs a missed deadline's callback (``callback_supervisor.execute_callback``), with the
context the scheduler gives it."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import psycopg
import pytest
import structlog
from psycopg.rows import dict_row

from include.symphonics.deadlines import interval_to_hour, publish_stale_after, reconcile_done_by
from tests.publish.conftest import PublishWorld
from tests.reconcile.conftest import reconcile_dag  # noqa: F401 - fixture

pytestmark = pytest.mark.integration


def _missed(dag: Any, run_id: str, state: str = "running") -> None:
    """Run the DAG's deadline callback as the executor does when the run ``run_id`` missed it."""
    from airflow.sdk.execution_time.callback_supervisor import execute_callback

    [alert] = dag.deadline
    context = {
        "dag_run": {"dag_id": dag.dag_id, "dag_run_id": run_id, "state": state, "logical_date": "2026-11-28T01:00:00Z"},
        "deadline": {"id": "test", "deadline_time": datetime.now(UTC).isoformat()},
    }
    ok, error = execute_callback(
        alert.callback.path, {**alert.callback.kwargs, "context": context}, "", None, structlog.get_logger()
    )
    assert ok, error


def _alerts(sync_dsn: str, run_id: str) -> list[dict[str, Any]]:
    with psycopg.connect(sync_dsn, row_factory=dict_row) as conn:
        return conn.execute("SELECT * FROM symphonics.alerts WHERE run_id = %s ORDER BY id", (run_id,)).fetchall()


def _waiting_rows(world: PublishWorld, run_id: str) -> None:
    from include.symphonics.publish import steps

    steps.run_extract({}, run_id=run_id, run_type="manual", logical_date=None, schedule="*/15 * * * *")
    steps.run_prevalidate(run_id=run_id)


def test_a_publish_run_missing_its_deadline_with_rows_waiting_and_nothing_published_raises_an_alert(
    world: PublishWorld, publish_dag: Any
) -> None:
    [alert] = publish_dag.deadline
    assert alert.interval == timedelta(minutes=120)
    _waiting_rows(world, "stalled")
    _missed(publish_dag, "stalled")
    [row] = _alerts(world.sync_dsn, "stalled")
    assert (row["kind"], row["severity"], row["dag_id"]) == ("publish_stalled", "critical", "symphonics_publish")
    assert row["details"]["backlog"] > 0
    assert row["details"]["last_finished_at"] is None
    assert "no publish run has finished for ever" in row["message"]
    _missed(publish_dag, "stalled")  # the callback retried: one alert per run
    assert len(_alerts(world.sync_dsn, "stalled")) == 1


def test_a_late_publish_run_raises_nothing_when_a_run_finished_recently_or_nothing_waits(
    world: PublishWorld, publish_dag: Any
) -> None:
    _missed(publish_dag, "late-but-nothing-waits")
    assert _alerts(world.sync_dsn, "late-but-nothing-waits") == []

    _waiting_rows(world, "late-after-a-recent-run")
    with psycopg.connect(world.sync_dsn) as conn:
        conn.execute(
            "INSERT INTO symphonics.publish_runs (dag_id, run_id, started_at, finished_at) "
            "VALUES ('symphonics_publish', 'recent', now() - interval '5 minutes', now())"
        )
    _missed(publish_dag, "late-after-a-recent-run")
    assert _alerts(world.sync_dsn, "late-after-a-recent-run") == []

    with psycopg.connect(world.sync_dsn) as conn:
        conn.execute(
            "UPDATE symphonics.publish_runs SET started_at = now() - interval '3 hours', "
            "finished_at = now() - interval '121 minutes' WHERE run_id = 'recent'"
        )
    _missed(publish_dag, "late-after-an-old-run")
    [row] = _alerts(world.sync_dsn, "late-after-an-old-run")
    assert row["details"]["last_finished_at"] is not None


def test_a_reconcile_run_not_done_by_the_hour_raises_an_alert(
    sync_dsn: str,
    reconcile_dag: Any,  # noqa: F811
) -> None:
    [alert] = reconcile_dag.deadline
    assert alert.interval == timedelta(hours=4)  # 02:00 Europe/Paris -> 06:00
    _missed(reconcile_dag, "scheduled__late-reconcile", state="running")
    [row] = _alerts(sync_dsn, "scheduled__late-reconcile")
    assert (row["kind"], row["dag_id"]) == ("reconcile_late", "symphonics_reconcile")
    assert "has not finished by 06:00" in row["message"]


def test_deadline_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert interval_to_hour("0 2 * * *", "Europe/Paris", time(6, 0)) == timedelta(hours=4)
    assert interval_to_hour("30 23 * * *", "Europe/Paris", time(6, 0)) == timedelta(hours=6, minutes=30)
    monkeypatch.setenv("SYMPHONICS_PUBLISH_STALE_AFTER_MINUTES", "45")
    monkeypatch.setenv("SYMPHONICS_RECONCILE_DONE_BY", "07:30")
    assert publish_stale_after() == timedelta(minutes=45)
    assert reconcile_done_by() == time(7, 30)
    monkeypatch.setenv("SYMPHONICS_PUBLISH_STALE_AFTER_MINUTES", "two hours")
    with pytest.raises(ValueError, match="whole number of minutes"):
        publish_stale_after()
    monkeypatch.setenv("SYMPHONICS_RECONCILE_DONE_BY", "6h")
    with pytest.raises(ValueError, match="HH:MM"):
        reconcile_done_by()


def test_the_deadlines_survive_serialisation_as_the_scheduler_reads_them(publish_dag: Any) -> None:
    from airflow.serialization.serialized_objects import DagSerialization

    serialised = DagSerialization.to_dict(publish_dag)
    text = str(serialised)
    assert "include.symphonics.deadlines.publish_deadline_missed" in text
    assert "stale_after_minutes" in text
