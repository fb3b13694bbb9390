"""A run's conf with a key its DAG does not declare is refused by the run's first task, on every DAG.

Airflow merges unknown conf keys into the params without a word: ``{"dryrun": true}`` ran for real with
``dry_run`` false. Here each DAG, triggered with such a conf (``dag.test(run_conf=...)`` makes the same run as the
trigger form or ``POST /api/v2/dags/{dag_id}/dagRuns``), fails its first task once (no retry), naming the key,
runs nothing else, and the partner sees no call.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from tests.dags.test_dag_integrity import DAG_FILES
from tests.publish.conftest import PublishWorld

#: Each DAG's first task: the one that refuses the conf.
FIRST_TASK = {
    "symphonics_publish": "choose_path",
    "symphonics_reconcile": "check_params",
    "symphonics_privacy_erasure": "erase",
    "symphonics_healthcheck": "check_params",
    "symphonics_watchdog": "check_params",
}


def _dag(dag_id: str) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    from tests.dags.test_dag_integrity import DAGS_DIR

    bag = DagBag(dag_folder=str(DAGS_DIR / f"{dag_id}.py"))
    assert bag.import_errors == {}
    return bag.dags[dag_id]


def test_every_dag_has_its_first_task_listed() -> None:
    assert sorted(FIRST_TASK) == sorted(path.stem for path in DAG_FILES)


@pytest.mark.parametrize("dag_id", sorted(FIRST_TASK))
@pytest.mark.parametrize(
    ("conf", "named"),
    [({"unknown_param": 1}, "'unknown_param'"), ({"dryrun": True}, "'dryrun'")],
    ids=["unknown_param", "dryrun"],
)
def test_an_unknown_conf_key_fails_the_first_task_once_and_nothing_else_runs(
    world: PublishWorld, dag_id: str, conf: dict[str, Any], named: str, capfd: pytest.CaptureFixture[str]
) -> None:
    run = _dag(dag_id).test(logical_date=None, run_conf=conf)

    tries = {ti.task_id: (ti.state, ti.try_number) for ti in run.get_task_instances()}
    first = FIRST_TASK[dag_id]
    assert run.state == "failed", tries
    assert tries.pop(first) == ("failed", 1)
    # Nothing else started: every other task ended without running (upstream_failed or skipped, no try).
    assert {state for state, _ in tries.values()} <= {"upstream_failed", "skipped", None}, tries
    assert {number for _, number in tries.values()} <= {0}, tries
    log = "".join(capfd.readouterr())
    assert f"param {named}: unknown param of this DAG" in log
    assert world.sandbox.calls() == []
    with psycopg.connect(world.sync_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM symphonics.publish_runs").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM symphonics.interventions_ledger").fetchone() == (0,)


def test_a_typo_of_dry_run_is_named_with_the_param_it_meant(
    world: PublishWorld, capfd: pytest.CaptureFixture[str]
) -> None:
    run = _dag("symphonics_publish").test(logical_date=None, run_conf={"dryrun": True})

    assert run.state == "failed"
    assert "'dryrun': did you mean 'dry_run'?" in "".join(capfd.readouterr())
    assert world.sandbox.calls() == []


def test_the_reconcile_tasks_that_run_whatever_failed_still_do_after_the_first_task_succeeded() -> None:
    # check_params' success is their "one success": a failed step or check still lets them run, a refused run not.
    dag = _dag("symphonics_reconcile")
    for task_id in ("purge", "personal_data_retention", "evaluate_alerts"):
        task = dag.get_task(task_id)
        assert task.trigger_rule == "all_done_min_one_success"
        assert "check_params" in task.upstream_task_ids
    minimise = _dag("symphonics_publish").get_task("minimise_personal_data")
    assert minimise.trigger_rule == "all_done_min_one_success"
    assert minimise.upstream_task_ids == {"choose_path", "publish"}
