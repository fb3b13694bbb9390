"""Deadline alerts (Airflow 3.3's ``DeadlineAlert``) of the publish and reconcile DAGs, raised through the notifier.

* **publish stalled**: each publish run carries a deadline ``SYMPHONICS_PUBLISH_STALE_AFTER_MINUTES`` (default 120)
  after it was queued. If the run has not succeeded by then, the scheduler calls :func:`publish_deadline_missed`,
  which raises ``publish_stalled`` when no publish run has finished for that long **and** rows are waiting;
  a late run with nothing to publish, or while another run published meanwhile, raises nothing.
* **reconcile late**: each reconcile run carries a deadline at the hour ``SYMPHONICS_RECONCILE_DONE_BY`` (default
  ``06:00``, in the DAG's time zone) after its scheduled tick; the scheduler calls
  :func:`reconcile_deadline_missed` when the run has not succeeded by then (a run that succeeded in time has its
  deadline removed by Airflow).

The settings are read at parse time (like the schedules); the callbacks run in the executor, import nothing at
parse time, and reach the ``sync`` database only when called. What each alert means and what to do:
``docs/RUNBOOK.md``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime, time, timedelta
from types import SimpleNamespace
from typing import Any

import pendulum
from airflow.sdk import (  # type: ignore[attr-defined]  # lazily exported: mypy misses them
    DeadlineAlert,
    DeadlineReference,
    SyncCallback,
)

from include.symphonics.alerts import Alert, SymphonicsAlertNotifier

DEFAULT_PUBLISH_STALE_AFTER_MINUTES = 120
DEFAULT_RECONCILE_DONE_BY = "06:00"


def publish_stale_after() -> timedelta:
    """``SYMPHONICS_PUBLISH_STALE_AFTER_MINUTES`` (default 120): how long publishing may stay without a finished run.

    :raises ValueError: the value is not a positive whole number of minutes.
    """
    raw = os.environ.get("SYMPHONICS_PUBLISH_STALE_AFTER_MINUTES", "").strip()
    if not raw:
        return timedelta(minutes=DEFAULT_PUBLISH_STALE_AFTER_MINUTES)
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"SYMPHONICS_PUBLISH_STALE_AFTER_MINUTES must be a whole number of minutes >= 1, not {raw!r}")
    return timedelta(minutes=int(raw))


def reconcile_done_by() -> time:
    """``SYMPHONICS_RECONCILE_DONE_BY`` (``HH:MM``, default 06:00): when the nightly reconcile must have finished.

    :raises ValueError: the value is not ``HH:MM``.
    """
    raw = os.environ.get("SYMPHONICS_RECONCILE_DONE_BY", "").strip() or DEFAULT_RECONCILE_DONE_BY
    try:
        return datetime.strptime(raw, "%H:%M").time()
    except ValueError:
        raise ValueError(f"SYMPHONICS_RECONCILE_DONE_BY must be HH:MM (e.g. 06:00), not {raw!r}") from None


def interval_to_hour(schedule: str, timezone: str, done_by: time) -> timedelta:
    """From the schedule's tick (a run's logical date) to the next ``done_by`` hour after it, in ``timezone``.

    :param schedule: the DAG's cron expression (its first tick of a day is taken).
    :param timezone: the DAG's time zone.
    :param done_by: the hour the run must have finished by.
    """
    from croniter import croniter

    midnight = pendulum.datetime(2026, 1, 5, tz=timezone)
    tick = pendulum.instance(croniter(schedule, midnight).get_next(datetime), tz=timezone)
    deadline = tick.replace(hour=done_by.hour, minute=done_by.minute, second=0, microsecond=0)
    if deadline <= tick:
        deadline = deadline.add(days=1)
    return timedelta(seconds=(deadline - tick).total_seconds())


def publish_deadline(sync_conn_id: str = "sync_db") -> DeadlineAlert:
    """The publish DAG's deadline: ``publish_stale_after()`` after each run was queued."""
    stale_after = publish_stale_after()
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=stale_after,
        callback=SyncCallback(
            publish_deadline_missed,
            kwargs={"stale_after_minutes": int(stale_after.total_seconds() // 60), "sync_conn_id": sync_conn_id},
        ),
        name="publish_stalled",
    )


def reconcile_deadline(schedule: str, timezone: str, sync_conn_id: str = "sync_db") -> DeadlineAlert:
    """The reconcile DAG's deadline: the ``reconcile_done_by()`` hour following each run's scheduled tick."""
    done_by = reconcile_done_by()
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_LOGICAL_DATE,
        interval=interval_to_hour(schedule, timezone, done_by),
        callback=SyncCallback(
            reconcile_deadline_missed,
            kwargs={"done_by": done_by.strftime("%H:%M"), "sync_conn_id": sync_conn_id},
        ),
        name="reconcile_late",
    )


def _notifier_context(context: Mapping[str, Any]) -> dict[str, Any]:
    """The notifier's context from the deadline's (the scheduler sends the run as a plain mapping)."""
    run = dict(context.get("dag_run") or {})
    return {"dag_run": SimpleNamespace(dag_id=run.get("dag_id"), run_id=run.get("dag_run_id") or run.get("run_id"))}


def _raise(alert: Alert, context: Mapping[str, Any], sync_conn_id: str) -> list[Alert]:
    notifier = SymphonicsAlertNotifier(
        [alert], sync_conn_id=sync_conn_id, conn_id=os.environ.get("SYMPHONICS_ALERT_CONN_ID", "").strip() or None
    )
    notifier.notify(_notifier_context(context))
    return notifier.raised


def publish_deadline_missed(
    context: Mapping[str, Any], stale_after_minutes: int, sync_conn_id: str = "sync_db", **_: Any
) -> list[Alert]:
    """A publish run missed its deadline: alert if nothing finished for ``stale_after_minutes`` and rows wait.

    :param context: what the scheduler gives a deadline callback (``dag_run``, ``deadline``).
    :param stale_after_minutes: the configured time.
    :param sync_conn_id: the ``sync`` database.
    :return: the alerts raised (none when publishing is not stalled).
    """
    from include.symphonics.db import connect
    from include.symphonics.publish.sqlfiles import query

    with connect(sync_conn_id) as conn:
        row = conn.execute(query("publish_health")).fetchone()
    last_finished_at, backlog = (row[0], int(row[1])) if row else (None, 0)
    now = pendulum.now("UTC")
    if backlog == 0:
        return []
    if last_finished_at is not None and now - last_finished_at < timedelta(minutes=stale_after_minutes):
        return []
    since = "ever" if last_finished_at is None else f"{(now - last_finished_at).total_seconds() / 60:.0f} min"
    alert = Alert(
        "publish_stalled",
        "critical",
        f"no publish run has finished for {since} (deadline {stale_after_minutes} min) while {backlog} rows wait",
        {
            "backlog": backlog,
            "last_finished_at": None if last_finished_at is None else last_finished_at.isoformat(),
            "stale_after_minutes": stale_after_minutes,
        },
    )
    return _raise(alert, context, sync_conn_id)


def reconcile_deadline_missed(
    context: Mapping[str, Any], done_by: str, sync_conn_id: str = "sync_db", **_: Any
) -> list[Alert]:
    """A reconcile run has not succeeded by the configured hour: alert (once per run).

    :param context: what the scheduler gives a deadline callback (``dag_run``, ``deadline``).
    :param done_by: the configured hour (``HH:MM``).
    :param sync_conn_id: the ``sync`` database.
    :return: the alert raised (none if this run's alert was raised already).
    """
    run = dict(context.get("dag_run") or {})
    alert = Alert(
        "reconcile_late",
        "critical",
        f"the reconcile run {run.get('dag_run_id') or run.get('run_id')} has not finished by {done_by} "
        f"(state {run.get('state')}): analysts' snapshot and webhook statuses are not up to date",
        {"done_by": done_by, "state": run.get("state"), "logical_date": run.get("logical_date")},
    )
    return _raise(alert, context, sync_conn_id)
