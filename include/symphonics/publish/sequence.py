"""The publish steps in their order, stated once: the DAG's tasks and the event path both read this list.

``extract`` → ``prevalidate`` → ``validate_with_partner`` → ``publish`` → ``minimise_personal_data`` →
``summarise``. The DAG ``symphonics_publish`` makes one task of each step, named by its task id and chained in this
order after ``check_params``; the event path (:mod:`.fastpath`) calls the same steps in the same order in one task,
``fast_publish``. Each step reads the ledger, not its predecessor's result: only ``summarise`` takes earlier
results, and :attr:`PublishStep.takes` names them.

Nothing here runs at parse time (the DAG file imports this module): each step imports what it calls when it runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

#: The DAG's tasks that are not steps: the branch, the step-by-step path's first task and the event path's task.
CHOOSE_PATH_TASK = "choose_path"
CHECK_PARAMS_TASK = "check_params"
FAST_TASK = "fast_publish"

#: The summary's keys a task that updates the ledger Asset puts in the asset event's ``extra``.
LEDGER_ASSET_EXTRA_KEYS = ("published", "updated", "invalid", "rejected", "changed_after_publish")


@dataclass(frozen=True)
class PublishRun:
    """The Airflow run a step works for: what each step's task reads from its context, or the event path is given.

    :param params: the run's params.
    :param run_id: the Airflow run.
    :param run_type: its type as the pipeline compares it (``scheduled``, ``backfill``...), see ``run_type_name``.
    :param logical_date: its logical date (None for an asset-triggered run or a run triggered without one).
    :param started_at: when the run started.
    :param dag_id: its DAG.
    :param schedule: the DAG's schedule (a backfill's range).
    """

    params: Mapping[str, Any]
    run_id: str
    run_type: str | None
    logical_date: datetime | None
    started_at: datetime | None
    dag_id: str
    schedule: str

    @classmethod
    def from_context(cls, context: Mapping[str, Any], *, schedule: str) -> PublishRun:
        """The run of a task's Airflow context.

        :param context: the task's context (``get_current_context()``).
        :param schedule: the DAG's schedule.
        """
        from include.symphonics.publish.steps import run_type_name

        dag_run = context["dag_run"]
        return cls(
            params=context["params"],
            run_id=str(context["run_id"]),
            run_type=run_type_name(dag_run.run_type),
            logical_date=context.get("logical_date"),
            started_at=dag_run.start_date,
            dag_id=dag_run.dag_id,
            schedule=schedule,
        )


#: A step's body: the run, and the earlier steps' results it takes (by :attr:`PublishStep.result`).
StepBody = Callable[[PublishRun, Mapping[str, Mapping[str, Any]]], dict[str, Any]]


@dataclass(frozen=True)
class PublishStep:
    """One publish step: its task, its body, and what it reads of the steps before it.

    :param task_id: the DAG task that runs it on the step-by-step path.
    :param result: the name the steps after it know its result by.
    :param body: what it does (a call into :mod:`.steps`, or the privacy steps for the minimisation).
    :param takes: the ``result`` names of the earlier steps it reads, in this order (its task receives their
        XComs in one mapping).
    :param runs_whatever_happened: it runs once the step before it is done, whatever that did, a failure
        included; the steps after it do not wait for it (its task hangs beside the chain).
    :param updates_ledger_asset: it puts the run's counts on the ``symphonics_ledger`` Asset's event.
    :param doc_md: its task's doc in the UI.
    """

    task_id: str
    result: str
    body: StepBody
    takes: tuple[str, ...] = ()
    runs_whatever_happened: bool = False
    updates_ledger_asset: bool = False
    doc_md: str | None = None


def _extract(run: PublishRun, earlier: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    from include.symphonics.publish import steps

    return steps.run_extract(
        run.params, run_id=run.run_id, run_type=run.run_type, logical_date=run.logical_date, schedule=run.schedule
    )


def _prevalidate(run: PublishRun, earlier: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    from include.symphonics.publish import steps

    return steps.run_prevalidate(run_id=run.run_id, params=run.params)


def _validate_with_partner(run: PublishRun, earlier: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    from include.symphonics.publish import steps

    return steps.run_partner_validation(run_id=run.run_id, params=run.params)


def _publish(run: PublishRun, earlier: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    from include.symphonics.publish import steps

    return steps.run_publish(
        run.params, run_id=run.run_id, run_type=run.run_type, logical_date=run.logical_date, schedule=run.schedule
    )


def _minimise_personal_data(run: PublishRun, earlier: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    from include.symphonics.privacy import steps

    return steps.run_minimise()


def _summarise(run: PublishRun, earlier: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    from include.symphonics.publish import steps
    from include.symphonics.publish.summary import RunInfo

    info = RunInfo(
        dag_id=run.dag_id,
        run_id=run.run_id,
        run_type=run.run_type,
        logical_date=run.logical_date,
        started_at=run.started_at,
    )
    return steps.run_summarise(
        info, run.params, earlier["extracted"], earlier["local"], earlier["partner"], earlier["published"]
    )


#: The steps in their order. ``minimise_personal_data`` runs after ``publish`` whatever it did (rows no run works
#: on any more keep no personal data even when a step failed); ``summarise`` reads the four steps' counts.
PUBLISH_STEPS: tuple[PublishStep, ...] = (
    PublishStep("extract", "extracted", _extract),
    PublishStep("prevalidate", "local", _prevalidate),
    PublishStep("validate_with_partner", "partner", _validate_with_partner),
    PublishStep("publish", "published", _publish),
    PublishStep("minimise_personal_data", "minimised", _minimise_personal_data, runs_whatever_happened=True),
    PublishStep(
        "summarise",
        "summary",
        _summarise,
        takes=("extracted", "local", "partner", "published"),
        updates_ledger_asset=True,
        doc_md=":param counts: each step's counts by step (TaskFlow resolves the XComArgs inside the mapping).",
    ),
)

#: The step-by-step path's first tasks, which the branch follows: ``check_params``, and each step that runs
#: whatever happened (so that a run refused by ``choose_path`` leaves it no successful upstream and it does not run).
STEP_BY_STEP_TASKS: tuple[str, ...] = (
    CHECK_PARAMS_TASK,
    *(step.task_id for step in PUBLISH_STEPS if step.runs_whatever_happened),
)


def run_steps(run: PublishRun, steps: tuple[PublishStep, ...] = PUBLISH_STEPS) -> dict[str, dict[str, Any]]:
    """Run the steps in their order in this process (the event path); each one's result by its ``result`` name.

    A step that fails stops the steps after it but those that run whatever happened, which run before its error
    goes on (as their tasks do on the other path).

    :param run: the run.
    :param steps: the steps, in their order.
    """
    results: dict[str, dict[str, Any]] = {}
    for position, step in enumerate(steps):
        try:
            results[step.result] = step.body(run, {name: results[name] for name in step.takes})
        except BaseException:
            for after in steps[position + 1 :]:
                if after.runs_whatever_happened:
                    results[after.result] = after.body(run, {name: results[name] for name in after.takes})
            raise
    return results


def ledger_asset_extra(result: Mapping[str, Any]) -> dict[str, Any]:
    """The ``extra`` of the ``symphonics_ledger`` Asset's event: the run's counts from its summary.

    :param result: the run's summary (as ``summarise`` returns it).
    """
    return {key: result[key] for key in LEDGER_ASSET_EXTRA_KEYS}


def run_in_task(
    step: PublishStep, context: Mapping[str, Any], *, schedule: str, earlier: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """The body of a step's task on the step-by-step path: the run from the context, then the step.

    :param step: the step.
    :param context: the task's Airflow context.
    :param schedule: the DAG's schedule.
    :param earlier: the earlier steps' results it takes (their XComs, resolved by TaskFlow).
    """
    result = step.body(PublishRun.from_context(context, schedule=schedule), earlier)
    if step.updates_ledger_asset:
        from include.symphonics.publish.assets import LEDGER_ASSET

        context["outlet_events"][LEDGER_ASSET].extra = ledger_asset_extra(result)
    return result
