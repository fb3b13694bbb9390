"""
### Symphonics publish

Publishes the app's completed interventions to Symphonics, each exactly once, under the partner's quota.

`choose_path` → `check_params` → `extract` → `prevalidate` → `validate_with_partner` → `publish` → `summarise`
(and `minimise_personal_data`); an asset-triggered run: `choose_path` → `fast_publish`.

* **choose_path**: a run started by the completion watcher (asset-triggered) takes the event path, one task
  `fast_publish` that calls the same steps in the same order (`include/symphonics/publish/fastpath.py`): a
  handful of interventions is created seconds after completion instead of after six task starts. Every other
  run (scheduled, manual, backfill, dry run, params) takes the tasks below.

* **choose_path** and **check_params**: a conf key the DAG does not declare (a typo such as `dryrun`) or a bad
  param (`from` not an ISO date-time or after `to`, a duration such as `P1D`, `external_ids` holding anything
  but strings) fails the run in its first task, at once, without retries, naming the key; nothing else runs.
* **extract**: interventions changed since the persisted high-water mark (updated_at, id), minus a small
  overlap, into the ledger `symphonics.interventions_ledger` (set-based; unchanged rows are skipped by
  fingerprint). Params `from`/`to` (or a backfill) re-extract a range; `external_ids` re-extracts those.
* **prevalidate**: the local rules (no quota spent): PDL or usable address, phone in E.164, documents,
  photos, completion date, company id. Published rows are diffed: new documents → PATCH, an address edit or
  a cancellation → `changed_after_publish`.
* **validate_with_partner**: each distinct PDL, address and installer once (cached with a TTL).
* **publish**: creates and PATCHes, claimed with `FOR UPDATE SKIP LOCKED`; `sending` is committed before
  each request. Stops cleanly when the quota share or the run's call budget is spent.
* **summarise**: counts in `symphonics.publish_runs` and the log; updates the `symphonics_ledger` Asset.
* **minimise_personal_data** (after `publish`, whatever it did): rows no run works on any more keep fingerprints
  and non-personal fields only (`docs/PERSONAL_DATA.md`).

Params: `external_ids` (check those again now: re-extracted and re-validated, each sent only if not yet at the
partner or changed since; ids the app does not have are listed in the run summary; every step works on those rows
only, the backlog waits for the next run), `from`, `to`, `dry_run` (no create or PATCH; logs what would be sent;
changes nothing in the ledger, its history or the refusals: `publish` does the whole pipeline in one transaction it
rolls back and keeps only the plan, `include/symphonics/publish/dry_run.py`), `force` (ignore the fingerprint). A
run triggered without a logical date (REST API `"logical_date": null`, an asset event) works like a manual one.
Kill switch: Variable `symphonics_kill_switch` = `on` stops every partner call (token requests included, within
5 s in a running task); runs still succeed and report it. The run's call budget (`SYMPHONICS_PUBLISH_CALL_BUDGET`)
counts requests from the call log, so a cleared task sees what the run already spent.

Backfills are refused (Airflow answers "does not allow backfill runs"): re-publish a past range with **one** run,
params `from` and `to`. A backfill would queue one run per 15-minute interval, and Airflow counts queued backfill
runs against `max_active_runs` before it creates an asset-triggered run: completions would wait for its end.
`SYMPHONICS_PUBLISH_ALLOW_BACKFILL=true` allows them again.

Schedule: the `symphonics_app_completions` Asset **or** the clock, whichever comes first. The Asset's watcher
(`include/symphonics/publish/watcher.py`, in the triggerer) probes the app every
`SYMPHONICS_WATCHER_POLL_SECONDS` (default 2 s; 1 s under `make run`) and signals completions seconds after they
happen; the cron `SYMPHONICS_PUBLISH_SCHEDULE` (default every 15 minutes) is the safety net when the triggerer is
down. One run at a time: events that arrive during a run start one more run when it ends, not one each.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, Param, dag, get_current_context, task

from include.symphonics import params as run_params
from include.symphonics.dag_defaults import DEFAULT_ARGS, START_DATE
from include.symphonics.publish.assets import COMPLETIONS_ASSET, LEDGER_ASSET
from include.symphonics.publish.sequence import (
    CHECK_PARAMS_TASK,
    CHOOSE_PATH_TASK,
    FAST_TASK,
    PUBLISH_STEPS,
    PublishStep,
)
from include.symphonics.publish.settings import BACKFILL_INSTEAD, publish_run_types, publish_schedule

SCHEDULE = publish_schedule()

#: The rule of a step that runs after the one before it whatever it did, but not after a refused run:
#: choose_path is an upstream, and its success is the "one success" (a refused conf leaves every upstream failed).
AFTER_WHATEVER_HAPPENED = "all_done_min_one_success"


def step_task(step: PublishStep) -> Any:
    """The task of one publish step, named by its task id: its body runs the step on the task's run.

    :param step: the step (``include/symphonics/publish/sequence.py``).
    """
    options: dict[str, Any] = {"task_id": step.task_id, "multiple_outputs": False}
    if step.runs_whatever_happened:
        options["trigger_rule"] = AFTER_WHATEVER_HAPPENED
    if step.updates_ledger_asset:
        options["outlets"] = [LEDGER_ASSET]
    if step.doc_md:
        options["doc_md"] = step.doc_md

    @task(**options)
    def run_step(earlier: Mapping[str, Any] | None = None) -> dict[str, Any]:
        # No docstring: it would become the doc of every step's task.
        from include.symphonics.publish import sequence

        return sequence.run_in_task(step, get_current_context(), schedule=SCHEDULE, earlier=earlier or {})

    return run_step


def step_by_step_path(checked: Any) -> list[Any]:
    """The steps in their order after ``check_params``; the path's first tasks (what the branch follows).

    Each step reads the ledger, not its predecessor's counts: a step is wired after the one before it, and only
    a step that takes earlier results (``summarise``) receives their XComs. A step that runs whatever happened
    (``minimise_personal_data``) hangs beside the chain, after the step before it, and is a first task too.

    :param checked: the task ``check_params``.
    """
    first: list[Any] = [checked]
    previous: Any = checked
    results: dict[str, Any] = {}  # each step's XComArg, by its result name
    for step in PUBLISH_STEPS:
        earlier = [{name: results[name] for name in step.takes}] if step.takes else []
        made = step_task(step)(*earlier)
        previous >> made
        results[step.result] = made
        if step.runs_whatever_happened:
            first.append(made)
        else:
            previous = made
    return first


@dag(
    schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable(SCHEDULE, timezone="UTC"), assets=[COMPLETIONS_ASSET]),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    # No backfill (unless SYMPHONICS_PUBLISH_ALLOW_BACKFILL): its queued runs would hold up the event path. The
    # values are DagRunType's: the SDK converts them (its enum is not exported by airflow.sdk).
    allowed_run_types=publish_run_types(),  # type: ignore[arg-type]
    description=BACKFILL_INSTEAD,
    default_args=DEFAULT_ARGS,
    doc_md=__doc__,
    tags=["symphonics", "publish"],
    params={
        "external_ids": Param([], description=run_params.EXTERNAL_IDS_DESCRIPTION, **run_params.EXTERNAL_IDS_SCHEMA),
        "from": Param(None, description=run_params.FROM_DESCRIPTION, **run_params.INSTANT_SCHEMA),
        "to": Param(None, description=run_params.TO_DESCRIPTION, **run_params.INSTANT_SCHEMA),
        "dry_run": Param(False, type="boolean", description=run_params.DRY_RUN_DESCRIPTION),
        "force": Param(False, type="boolean", description=run_params.FORCE_DESCRIPTION),
    },
)
def symphonics_publish() -> None:
    @task.branch(task_id=CHOOSE_PATH_TASK)
    def choose_path() -> list[str]:
        from include.symphonics.publish import fastpath

        context = get_current_context()
        # The first task: a conf key the DAG does not declare, or a bad value, stops the run before any work,
        # on both paths.
        run_params.fail_run_on_unknown_conf(context)
        run_params.fail_run_on_invalid(run_params.publish_params, context["params"])
        return fastpath.choose_path(context["dag_run"].run_type)

    @task(task_id=FAST_TASK, outlets=[LEDGER_ASSET], multiple_outputs=False)
    def fast_publish() -> dict[str, Any]:
        from include.symphonics.publish import fastpath, sequence

        context = get_current_context()
        run_params.fail_run_on_unknown_conf(context)  # also when cleared alone, after a refused choose_path
        result = fastpath.run_event_path(sequence.PublishRun.from_context(context, schedule=SCHEDULE))
        context["outlet_events"][LEDGER_ASSET].extra = sequence.ledger_asset_extra(result)
        return result

    # Each task returns one dict, kept as one XCom (return_value): stated, not left to Airflow's inference.
    @task(task_id=CHECK_PARAMS_TASK, multiple_outputs=False)
    def check_params() -> dict[str, Any]:
        context = get_current_context()
        run_params.fail_run_on_unknown_conf(context)
        checked = run_params.fail_run_on_invalid(run_params.publish_params, context["params"])
        return dict(checked.as_dict())

    # The event path is one task; the step-by-step path is check_params, then the steps of sequence.PUBLISH_STEPS.
    choose_path() >> [fast_publish(), *step_by_step_path(check_params())]


symphonics_publish()
