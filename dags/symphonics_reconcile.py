"""
### Symphonics reconcile

Nightly: what became of each published intervention, the analysts' snapshot, data-quality checks and alerts.

`check_params` → `apply_webhooks` → `poll_statuses` → `copy_app_state` → `build_snapshot` → checks → `purge`
→ `personal_data_retention` → `evaluate_alerts`

* **check_params**: a conf key the DAG does not declare, or a bad `snapshot_date` (not an ISO date), fails the
  run at once, without retries, naming it; nothing else runs (not even the tasks that run whatever failed).
* **apply_webhooks**: received events applied in event order: `conflict_unresolved` rows get the Symphonics id
  events carry; one `symphonics.status_history` row per event; events marked processed.
* **poll_statuses**: `GET /crm/interventions/{id}` for interventions queued by late webhooks, then published ones
  not in a final state and quiet for `SYMPHONICS_RECONCILE_POLL_AFTER_HOURS` (48), within the `reconcile` quota
  share: a spent share stops the pass cleanly, the rest is polled next night.
* **copy_app_state**: the app's changed interventions (personal data masked) copied with COPY into
  `symphonics.app_interventions_copy`; then the optional write-back to the app's `symphonics_sync` schema
  (Variable `symphonics_writeback` or `SYMPHONICS_WRITEBACK` = `on`; off by default).
* **build_snapshot**: the date's change rows (`analytics.snapshot_changes`, read through the view
  `analytics.reconciliation_snapshots`), one `INSERT … SELECT` of what changed since the last build, written once.
  The date is the param `snapshot_date`, else the run's logical date (Europe/Paris), else, for a run
  triggered without one (REST API `"logical_date": null`), the schedule's last tick before the run started;
  a date built before keeps its rows; a date older than the newest build, never built, is refused.
* **checks** (common-sql): one app intervention per external id, ledger ids unique and complete, snapshot vs ledger.
* **purge** (runs whatever the checks said): raw webhook bodies, `api_calls`, processed webhook events, ledger
  history and dry-run results past their retention, in bounded batches (docs/OPERATIONS.md, "Retention").
* **personal_data_retention** (runs whatever the checks said): finished ledger rows lose their personal data
  `SYMPHONICS_PERSONAL_DATA_RETENTION_DAYS` (90) days after they finished, in batches; expired cached partner
  answers are deleted (`docs/PERSONAL_DATA.md`); after a key rotation, a bounded part of the erasure index's
  rehash.
* **evaluate_alerts** (runs whatever failed): rules of docs/ANALYTICS.md, to `symphonics.alerts`, the log and an
  optional connection; fails the run when a task of it failed, so the grid shows it.

Schedule: `SYMPHONICS_RECONCILE_SCHEDULE` (default `0 2 * * *`, Europe/Paris).
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.providers.common.sql.operators.sql import SQLColumnCheckOperator, SQLTableCheckOperator
from airflow.sdk import Param, dag, get_current_context, task, task_group
from airflow.sdk.exceptions import AirflowFailException

from include.symphonics import params as run_params
from include.symphonics.dag_defaults import DEFAULT_ARGS
from include.symphonics.db import SYNC_CONN_ID
from include.symphonics.publish.assets import LEDGER_ASSET
from include.symphonics.reconcile import checks
from include.symphonics.reconcile.assets import SNAPSHOT_ASSET
from include.symphonics.reconcile.settings import reconcile_schedule

#: The rule of the tasks that run whatever failed before them, except a run refused by ``check_params``.
AFTER_WHATEVER_FAILED = "all_done_min_one_success"


def _run_id() -> str:
    return str(get_current_context()["run_id"])


@dag(
    schedule=reconcile_schedule(),
    start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Paris"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    doc_md=__doc__,
    tags=["symphonics", "reconcile", "analytics"],
    template_searchpath=[str(checks.SQL_DIR)],
    params={
        "snapshot_date": Param(None, description=run_params.SNAPSHOT_DATE_DESCRIPTION, **run_params.DATE_SCHEMA),
    },
)
def symphonics_reconcile() -> None:
    # Each task returns one value, kept as one XCom (return_value): stated, not left to Airflow's inference.
    @task(multiple_outputs=False)
    def check_params() -> str | None:
        context = get_current_context()
        run_params.fail_run_on_unknown_conf(context)
        return run_params.fail_run_on_invalid(run_params.snapshot_date_param, context["params"])

    @task(multiple_outputs=False)
    def apply_webhooks() -> dict[str, int]:
        from include.symphonics.reconcile import steps

        return steps.run_apply_webhooks(run_id=_run_id())

    @task(multiple_outputs=False)
    def poll_statuses() -> dict[str, Any]:
        from include.symphonics.reconcile import steps

        return steps.run_poll_statuses(run_id=_run_id())

    @task(multiple_outputs=False)
    def copy_app_state() -> dict[str, int]:
        from include.symphonics.reconcile import steps

        return steps.run_copy_app_state(run_id=_run_id())

    @task(multiple_outputs=False, inlets=[LEDGER_ASSET], outlets=[SNAPSHOT_ASSET])
    def build_snapshot() -> dict[str, Any]:
        from include.symphonics.reconcile import steps

        context = get_current_context()
        return steps.run_build_snapshot(
            context["params"],
            logical_date=context.get("logical_date"),
            run_after=context["dag_run"].run_after,
            run_id=_run_id(),
        )

    @task_group
    def quality_checks() -> None:
        SQLTableCheckOperator(
            task_id="check_app_copy",
            conn_id=SYNC_CONN_ID,
            table="symphonics.app_interventions_copy",
            checks=checks.APP_COPY_CHECKS,
        )
        SQLColumnCheckOperator(
            task_id="check_ledger_columns",
            conn_id=SYNC_CONN_ID,
            table="symphonics.interventions_ledger",
            column_mapping=checks.LEDGER_COLUMN_CHECKS,
        )
        SQLTableCheckOperator(
            task_id="check_ledger_ids",
            conn_id=SYNC_CONN_ID,
            table="symphonics.interventions_ledger",
            checks=checks.LEDGER_TABLE_CHECKS,
        )
        checks.BoundSQLCheckOperator(
            task_id="check_snapshot",
            conn_id=SYNC_CONN_ID,
            sql="check_snapshot.sql",
            parameters={"snapshot_date": "{{ ti.xcom_pull(task_ids='build_snapshot')['snapshot_date'] }}"},
        )

    @task(multiple_outputs=False, trigger_rule=AFTER_WHATEVER_FAILED)
    def purge() -> dict[str, int]:
        from include.symphonics.reconcile import steps

        return steps.run_purge()

    @task(multiple_outputs=False, trigger_rule=AFTER_WHATEVER_FAILED)
    def personal_data_retention() -> dict[str, Any]:
        from include.symphonics.privacy import steps

        return steps.run_retention()

    @task(multiple_outputs=False, trigger_rule=AFTER_WHATEVER_FAILED)
    def evaluate_alerts() -> dict[str, Any]:
        from include.symphonics.reconcile import steps

        context = get_current_context()
        ti = context["ti"]
        result = steps.run_evaluate_alerts(
            context, ti.xcom_pull(task_ids="build_snapshot"), ti.xcom_pull(task_ids="poll_statuses")
        )
        if result["failed_tasks"]:
            # After the alerts are out: the run turns red (its last task would otherwise be green).
            raise AirflowFailException(f"failed task(s): {', '.join(result['failed_tasks'])}")
        return result

    checked = check_params()
    built = checked >> apply_webhooks() >> poll_statuses() >> copy_app_state() >> build_snapshot()
    purged, retained, evaluated = purge(), personal_data_retention(), evaluate_alerts()
    built >> quality_checks() >> purged >> retained >> evaluated
    # check_params' success is the "one success" of AFTER_WHATEVER_FAILED: a refused run runs nothing else.
    checked >> [purged, retained, evaluated]


symphonics_reconcile()
