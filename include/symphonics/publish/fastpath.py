"""The event path of ``symphonics_publish``: an asset-triggered run does its steps in one task.

A run started by the completion watcher usually carries a handful of interventions, so its work takes well under
a second; as six tasks (``check_params`` → ``extract`` → ``prevalidate`` → ``validate_with_partner`` →
``publish`` → ``summarise``, and ``minimise_personal_data``) it took 12-13 s on the LocalExecutor, each task
paying a process start, a DAG parse and a scheduler round trip. And while it ran, the next completion waited
(one run at a time). So the DAG's first task, ``choose_path``, sends an asset-triggered run to one task,
``fast_publish``, which calls the same step functions, in the same order, on the same run id: the claim, the
ledger's states, exactly-once, the call budget (counted from the call log) and the kill switch are those of the
steps, not of the task layout. A retry of ``fast_publish`` runs the steps again, which is what retrying the
tasks one by one does (each step is idempotent on the ledger).

Every other run (scheduled, manual, backfill, a dry run, a run with params) takes the six tasks, so an operator
still sees and clears each step. ``SYMPHONICS_PUBLISH_FAST_PATH=false`` sends asset-triggered runs there too.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from include.symphonics.core.config import env_flag

log = logging.getLogger(__name__)

#: The task that does the whole run on the event path, and the first tasks of the step-by-step path.
FAST_TASK = "fast_publish"
STEP_BY_STEP_TASKS = ("check_params", "minimise_personal_data")

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
    """Task ``fast_publish``: the six tasks' bodies in their order, in one process.

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
    from include.symphonics import params as run_params
    from include.symphonics.privacy import steps as privacy_steps
    from include.symphonics.publish import steps
    from include.symphonics.publish.summary import RunInfo

    run_params.fail_run_on_invalid(run_params.publish_params, params)
    try:
        extracted = steps.run_extract(
            params, run_id=run_id, run_type=run_type, logical_date=logical_date, schedule=schedule
        )
        local = steps.run_prevalidate(run_id=run_id, params=params)
        partner = steps.run_partner_validation(run_id=run_id, params=params)
        published = steps.run_publish(
            params, run_id=run_id, run_type=run_type, logical_date=logical_date, schedule=schedule
        )
    finally:
        minimised = privacy_steps.run_minimise()
    run = RunInfo(dag_id=dag_id, run_id=run_id, run_type=run_type, logical_date=logical_date, started_at=started_at)
    result = steps.run_summarise(run, params, extracted, local, partner, published)
    log.info("event path: the run's steps in one task (%s)", FAST_TASK)
    return {**result, "minimised": minimised["minimised"], "path": FAST_TASK}
