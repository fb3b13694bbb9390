"""Every DAG runs when triggered without a logical date, and a bad param fails its run at once, without retries.

``dag.test(logical_date=None)`` makes the same kind of run as ``POST /api/v2/dags/{dag_id}/dagRuns`` with
``"logical_date": null`` (the REST-level test is ``tests/journey/test_rest_and_ui_journey.py``).
"""

from __future__ import annotations

from typing import Any

import pendulum
import psycopg
import pytest

from include.symphonics.reconcile.snapshot import last_tick
from include.symphonics_demo import ExpectedState
from tests.publish.conftest import PublishWorld


def _states(run: Any) -> dict[str, tuple[str | None, int]]:
    return {ti.task_id: (ti.state, ti.try_number) for ti in run.get_task_instances()}


def test_publish_without_a_logical_date_publishes_and_reports_unknown_external_ids(
    world: PublishWorld, publish_dag: Any
) -> None:
    published = sorted(world.expected.external_ids_in(ExpectedState.PUBLISHED))
    first = publish_dag.test(logical_date=None)
    assert first.state == "success", _states(first)
    assert first.logical_date is None
    assert sorted(world.partner_external_ids()) == published

    run = publish_dag.test(
        logical_date=None, run_conf={"external_ids": [published[0], "int_does_not_exist", published[1]]}
    )

    assert run.state == "success", _states(run)
    with psycopg.connect(world.sync_dsn) as conn:
        row = conn.execute(
            "SELECT logical_date, detail -> 'extract' ->> 'extracted', detail -> 'extract' -> 'missing_external_ids'"
            " FROM symphonics.publish_runs WHERE run_id = %s",
            (run.run_id,),
        ).fetchone()
    assert row is not None
    assert row[0] is None
    assert row[1] == "2"
    assert row[2] == ["int_does_not_exist"]
    summary = run.get_task_instance("summarise").xcom_pull(task_ids="summarise")
    assert summary["missing_external_ids"] == ["int_does_not_exist"]
    # Checked again, never sent again: published and unchanged.
    assert sorted(world.partner_external_ids()) == published


@pytest.mark.parametrize(
    ("conf", "name"),
    [
        ({"from": "not a date"}, "from"),
        ({"from": "P1D"}, "from"),
        ({"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "from"),
    ],
)
def test_a_bad_publish_param_fails_the_run_at_once(
    world: PublishWorld, publish_dag: Any, conf: dict[str, Any], name: str, capfd: pytest.CaptureFixture[str]
) -> None:
    run = publish_dag.test(logical_date=None, run_conf=conf)

    states = _states(run)
    assert run.state == "failed", states
    # Refused by the first task, on both paths: nothing else runs.
    assert states.pop("choose_path") == ("failed", 1)
    assert {state for state, _ in states.values()} == {"upstream_failed"}, states
    assert f"param {name!r}" in "".join(capfd.readouterr())
    assert world.sandbox.calls() == []


def test_reconcile_without_a_logical_date_builds_the_last_scheduled_snapshot(
    reconcile_world: PublishWorld, reconcile_dag: Any
) -> None:
    run = reconcile_dag.test(logical_date=None)

    assert run.state == "success", _states(run)
    assert run.logical_date is None
    built = run.get_task_instance("build_snapshot").xcom_pull(task_ids="build_snapshot")
    tick = last_tick(run.run_after, "0 2 * * *")
    assert built["snapshot_date"] == tick.date().isoformat()
    assert pendulum.parse(built["as_of"]) == tick


def test_a_bad_snapshot_date_is_refused_before_a_run_is_created(
    reconcile_world: PublishWorld, reconcile_dag: Any
) -> None:
    # ``format: date`` is checked by Airflow itself when the run is created (REST API: a 400); the run's own
    # check (check_params, unit-tested in tests/unit/test_params.py) is the second line.
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError, match="param snapshot_date"):
        reconcile_dag.test(logical_date=None, run_conf={"snapshot_date": "2026-02-30"})


def test_last_tick_is_the_schedules_previous_tick_in_paris() -> None:
    winter = pendulum.datetime(2026, 11, 28, 20, 0, tz="UTC")
    assert last_tick(winter, "0 2 * * *") == pendulum.datetime(2026, 11, 28, 2, 0, tz="Europe/Paris")
    before_two = pendulum.datetime(2026, 11, 28, 0, 30, tz="UTC")  # 01:30 in Paris
    assert last_tick(before_two, "0 2 * * *") == pendulum.datetime(2026, 11, 27, 2, 0, tz="Europe/Paris")
    exactly = pendulum.datetime(2026, 7, 1, 0, 0, tz="UTC")  # 02:00 in Paris, summer time
    assert last_tick(exactly, "0 2 * * *") == exactly
