"""The reconcile DAG's task bodies: each resolves connections and settings at run time, then calls a step."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from include.symphonics import lineage
from include.symphonics.db import dsn
from include.symphonics.reconcile import app_state, poll, purge, rules, snapshot, webhook_apply, writeback
from include.symphonics.reconcile.settings import ReconcileSettings, reconcile_schedule, writeback_enabled

log = logging.getLogger(__name__)


def run_apply_webhooks(*, run_id: str) -> dict[str, int]:
    """Task ``apply_webhooks``."""
    settings = ReconcileSettings.from_environment()
    return webhook_apply.apply_webhook_events(dsn(settings.sync_conn_id), run_id=run_id).as_dict()


def run_poll_statuses(*, run_id: str) -> dict[str, Any]:
    """Task ``poll_statuses``: the partner client (guarded by the kill switch) is built only when something is to
    be polled; with the switch on, the pass ends before its first request and says so (``stopped``)."""
    from include.symphonics.hook import SymphonicsHook

    settings = ReconcileSettings.from_environment()
    hook = SymphonicsHook(settings.symphonics_conn_id, sync_conn_id=settings.sync_conn_id)
    try:
        counts = poll.poll_statuses(
            dsn(settings.sync_conn_id),
            hook.get_conn,
            run_id=run_id,
            quiet_for_seconds=settings.poll_quiet_for.total_seconds(),
            max_polls=settings.max_polls,
        )
        if hook.guard.admitted:  # the partner's interventions were read
            lineage.report_partner_interventions(hook, hook.get_conn().base_url, direction="input")
    finally:
        hook.close()
    return {**counts.as_dict(), "requests": hook.guard.admitted}


def run_copy_app_state(*, run_id: str) -> dict[str, int]:
    """Task ``copy_app_state``; then the optional write-back (off by default)."""
    settings = ReconcileSettings.from_environment()
    sync_dsn, app_dsn = dsn(settings.sync_conn_id), dsn(settings.app_conn_id)
    result = app_state.copy_app_state(app_dsn, sync_dsn, run_id=run_id, overlap=settings.app_copy_overlap)
    lineage.report_app_tables(settings.app_conn_id, lineage.APP_TABLES_COPIED, direction="input")
    if writeback_enabled():
        result.update(writeback.write_back(sync_dsn, app_dsn))
        lineage.report_app_tables(settings.app_conn_id, lineage.APP_TABLES_WRITTEN, direction="output")
    return result


def run_build_snapshot(
    params: Mapping[str, Any], *, logical_date: datetime | None, run_id: str, run_after: datetime | None = None
) -> dict[str, Any]:
    """Task ``build_snapshot``: the date is the param ``snapshot_date``, else the run's logical date, else (a run
    without one) the schedule's last tick before ``run_after``."""
    settings = ReconcileSettings.from_environment()
    snapshot_date, as_of = snapshot.snapshot_instant(
        logical_date, params.get("snapshot_date"), run_after=run_after, schedule=reconcile_schedule()
    )
    result = snapshot.build_snapshot(
        dsn(settings.sync_conn_id), snapshot_date, as_of, stale_days=settings.stale_days, run_id=run_id
    )
    return result.as_dict()


def run_purge() -> dict[str, int]:
    """Task ``purge``."""
    settings = ReconcileSettings.from_environment()
    return purge.purge(
        dsn(settings.sync_conn_id),
        body_retention=settings.webhook_body_retention,
        api_calls_retention=settings.api_calls_retention,
        refusal_retention=settings.webhook_refusal_retention,
        event_retention=settings.webhook_event_retention,
        ledger_history_retention=settings.ledger_history_retention,
        dry_run_retention=settings.dry_run_retention,
        batch_size=settings.purge_batch_size,
    )


def _failed_tasks(ti: Any, dag_id: str, run_id: str) -> tuple[str, ...]:
    states = ti.get_task_states(dag_id=dag_id, run_ids=[run_id])
    per_task = states.get(run_id, states) if isinstance(states, Mapping) else {}
    return tuple(sorted(task for task, state in per_task.items() if str(state) in rules.FAILED_STATES))


def run_evaluate_alerts(
    context: Mapping[str, Any], snapshot_result: Mapping[str, Any] | None, poll_result: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Task ``evaluate_alerts``: every rule, then the notifier. Returns the alerts raised and the failed tasks."""
    from include.symphonics.alerts import SymphonicsAlertNotifier

    settings = ReconcileSettings.from_environment()
    ti = context["ti"]
    dag_run = context["dag_run"]
    failed = tuple(t for t in _failed_tasks(ti, dag_run.dag_id, dag_run.run_id) if t != ti.task_id)
    facts = rules.RunFacts(failed_tasks=failed, poll=poll_result)
    snapshot_date = date.fromisoformat(str(snapshot_result["snapshot_date"])) if snapshot_result else None
    alerts = rules.evaluate(dsn(settings.sync_conn_id), snapshot_date, facts, settings)
    notifier = SymphonicsAlertNotifier(alerts, sync_conn_id=settings.sync_conn_id, conn_id=settings.alert_conn_id)
    if alerts:
        notifier.notify(context)
    else:
        log.info("no alert")
    return {"alerts": [alert.kind for alert in alerts], "failed_tasks": list(failed)}
