"""The event path of ``symphonics_publish``: an asset-triggered run does its steps in one task.

A run started by the completion watcher usually carries a handful of interventions, so its work takes well under
a second; as six tasks (``check_params`` → ``extract`` → ``prevalidate`` → ``validate_with_partner`` →
``publish`` → ``summarise``, and ``minimise_personal_data``) it took 12-13 s on the LocalExecutor, each task
paying a process start, a DAG parse and a scheduler round trip. And while it ran, the next completion waited
(one run at a time). So the DAG's first task, ``choose_path``, sends an asset-triggered run to one task,
``fast_publish``, which calls the same steps (:data:`.sequence.PUBLISH_STEPS`, the list the DAG's tasks are made
from), in the same order, on the same run id: the claim, the ledger's states, exactly-once, the call budget
(counted from the call log) and the kill switch are those of the steps, not of the task layout. A retry of
``fast_publish`` runs the steps again, which is what retrying the tasks one by one does (each step is idempotent
on the ledger).

Every other run (scheduled, manual, backfill, a dry run, a run with params) takes the six tasks, so an operator
still sees and clears each step. ``SYMPHONICS_PUBLISH_FAST_PATH=false`` sends asset-triggered runs there too.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from include.symphonics.core.config import env_flag
from include.symphonics.publish.sequence import FAST_TASK, STEP_BY_STEP_TASKS, PublishRun, run_steps

log = logging.getLogger(__name__)

#: Run types (``DagRunType`` values) that take the event path.
FAST_PATH_RUN_TYPES = frozenset({"asset_triggered"})
FAST_PATH_ENV = "SYMPHONICS_PUBLISH_FAST_PATH"


def fast_path_enabled() -> bool:
    """Whether asset-triggered runs take the one-task path: ``SYMPHONICS_PUBLISH_FAST_PATH`` (default on).

    :raises SettingError: a value that is neither on nor off.
    """
    return env_flag(FAST_PATH_ENV, default=True)


def choose_path(run_type: Any) -> list[str]:
    """The tasks the branch follows: ``fast_publish`` for an asset-triggered run, else the six tasks' heads.

    :param run_type: the DAG run's type, a ``DagRunType`` or its value (``asset_triggered``, ``scheduled``...).
    """
    # The Task SDK gives an enum whose str() is "DagRunType.ASSET_TRIGGERED": compare its value.
    if str(getattr(run_type, "value", run_type)) in FAST_PATH_RUN_TYPES and fast_path_enabled():
        return [FAST_TASK]
    return list(STEP_BY_STEP_TASKS)


def run_fast_path(
    params: Mapping[str, Any],
    *,
    run_id: str,
    run_type: str | None,
    logical_date: datetime | None,
    started_at: datetime | None,
    dag_id: str,
    schedule: str,
) -> dict[str, Any]:
    """Task ``fast_publish``: the steps of :data:`.sequence.PUBLISH_STEPS` in their order, in one process.

    The personal data of finished rows is minimised after the publish step whatever it did, as the task
    ``minimise_personal_data`` does on the other path.

    :param params: the run's params (an asset-triggered run has the defaults).
    :param run_id: the Airflow run.
    :param run_type: its type.
    :param logical_date: its logical date (None for an asset-triggered run).
    :param started_at: when the run started.
    :param dag_id: its DAG.
    :param schedule: the DAG's schedule (a backfill's range; unused on this path but passed as the task does).
    :return: the summary (as ``summarise`` returns it), with ``minimised`` and ``path``.
    """
    run = PublishRun(
        params=params,
        run_id=run_id,
        run_type=run_type,
        logical_date=logical_date,
        started_at=started_at,
        dag_id=dag_id,
        schedule=schedule,
    )
    return run_event_path(run)


def run_event_path(run: PublishRun) -> dict[str, Any]:
    """:func:`run_fast_path` for a run already gathered (the task's context).

    :param run: the run.
    :return: as :func:`run_fast_path`.
    """
    from include.symphonics import params as run_params

    run_params.fail_run_on_invalid(run_params.publish_params, run.params)
    results = run_steps(run)
    log.info("event path: the run's steps in one task (%s)", FAST_TASK)
    return {**results["summary"], "minimised": results["minimised"]["minimised"], "path": FAST_TASK}
