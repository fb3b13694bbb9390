"""The watchdog's deadline alerts on the publish and reconcile DAGs, raised through the notifier.

* ``publish_stalled``: no publish run has finished (dry runs aside) for ``SYMPHONICS_PUBLISH_STALE_AFTER_MINUTES``
  (default 120) **and** rows wait in the ledger. Raised once per stall: its key is the last finished run.
* ``reconcile_late``: the nightly reconcile has not built the snapshot of its tick by ``SYMPHONICS_RECONCILE_DONE_BY``
  (``HH:MM``, default ``06:00``, in the reconcile's time zone). Raised once per night; not before the first snapshot
  was ever built (a new deployment's first night is not "late").

Why a watchdog DAG (``symphonics_watchdog``) and not Airflow 3.3's ``DeadlineAlert``: a deadline hangs on a run, so
it cannot see that **no** run happens (a paused DAG, runs never queued), which is what "no publish run has succeeded
for N minutes" asks; and in Airflow 3.3 ``dag.test()`` of a DAG that has a deadline crashes when the run succeeds
(``DagRun.update_state`` passes the in-memory serialised deadline, a dict, to ``DeadlineAlertModel.get_by_id``, which
expects the UUID a DAG written to the database holds). The watchdog reads the ``sync`` database only (what the
runs recorded), never Airflow's metadata database. What each alert means and what to do: ``docs/RUNBOOK.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from types import SimpleNamespace

import pendulum

from include.symphonics.alerts import Alert
from include.symphonics.core.config import ALERT_CONN_ENV, env_int, env_text
from include.symphonics.db import SYNC_CONN_ID

DEFAULT_PUBLISH_STALE_AFTER_MINUTES = 120
DEFAULT_RECONCILE_DONE_BY = "06:00"
RECONCILE_TIMEZONE = "Europe/Paris"
PUBLISH_DAG_ID = "symphonics_publish"
RECONCILE_DAG_ID = "symphonics_reconcile"


def publish_stale_after() -> timedelta:
    """``SYMPHONICS_PUBLISH_STALE_AFTER_MINUTES`` (default 120): how long publishing may stay without a finished run.

    :raises ValueError: the value is not a positive whole number of minutes.
    """
    minutes = env_int(
        "SYMPHONICS_PUBLISH_STALE_AFTER_MINUTES", DEFAULT_PUBLISH_STALE_AFTER_MINUTES, minimum=1, unit="minutes"
    )
    return timedelta(minutes=minutes)


def reconcile_done_by() -> time:
    """``SYMPHONICS_RECONCILE_DONE_BY`` (``HH:MM``, default 06:00): when the nightly reconcile must have finished.

    :raises ValueError: the value is not ``HH:MM``.
    """
    raw = env_text("SYMPHONICS_RECONCILE_DONE_BY", DEFAULT_RECONCILE_DONE_BY) or DEFAULT_RECONCILE_DONE_BY
    try:
        return datetime.strptime(raw, "%H:%M").time()
    except ValueError:
        raise ValueError(f"SYMPHONICS_RECONCILE_DONE_BY must be HH:MM (e.g. 06:00), not {raw!r}") from None


def deadline_after(tick: datetime, done_by: time, timezone: str) -> datetime:
    """The first ``done_by`` hour after ``tick``, in ``timezone``."""
    local = pendulum.instance(tick).in_timezone(timezone)
    deadline = local.replace(hour=done_by.hour, minute=done_by.minute, second=0, microsecond=0)
    return deadline if deadline > local else deadline.add(days=1)


@dataclass(frozen=True)
class ReconcileDue:
    """The last reconcile tick whose deadline has passed.

    :param tick: the schedule's tick (the scheduled run's logical date).
    :param snapshot_date: the date that run builds (the tick's date in the reconcile's time zone).
    :param deadline: when it had to be done.
    """

    tick: datetime
    snapshot_date: str
    deadline: datetime


def reconcile_due(now: datetime, schedule: str, done_by: time, timezone: str = RECONCILE_TIMEZONE) -> ReconcileDue:
    """The latest tick of ``schedule`` whose ``done_by`` deadline is at or before ``now``."""
    from croniter import croniter

    local_now = pendulum.instance(now).in_timezone(timezone)
    ticks = croniter(schedule, local_now, ret_type=datetime)
    while True:
        tick = pendulum.instance(ticks.get_prev(), tz=timezone)
        deadline = deadline_after(tick, done_by, timezone)
        if deadline <= local_now:
            return ReconcileDue(tick, tick.date().isoformat(), deadline)


def publish_stalled_alert(
    last_finished_at: datetime | None, backlog: int, now: datetime, stale_after: timedelta
) -> Alert | None:
    """``publish_stalled`` if no publish run finished for ``stale_after`` while ``backlog`` rows wait, else None."""
    if backlog <= 0:
        return None
    if last_finished_at is not None and now - last_finished_at < stale_after:
        return None
    minutes = int(stale_after.total_seconds() // 60)
    since = "ever" if last_finished_at is None else f"{(now - last_finished_at).total_seconds() / 60:.0f} min"
    return Alert(
        "publish_stalled",
        "critical",
        f"no publish run has finished for {since} (limit {minutes} min) while {backlog} rows wait",
        {
            "backlog": backlog,
            "last_finished_at": None if last_finished_at is None else last_finished_at.isoformat(),
            "stale_after_minutes": minutes,
        },
    )


def _raise(alert: Alert, dag_id: str, key: str, sync_conn_id: str) -> list[Alert]:
    """Through the notifier, under ``key`` as its run id: the alerts table keeps one per key and kind."""
    from include.symphonics.alerts import SymphonicsAlertNotifier

    notifier = SymphonicsAlertNotifier([alert], sync_conn_id=sync_conn_id, conn_id=env_text(ALERT_CONN_ENV))
    notifier.notify({"dag_run": SimpleNamespace(dag_id=dag_id, run_id=key)})
    return notifier.raised


def check_publish(now: datetime, sync_conn_id: str = SYNC_CONN_ID) -> list[Alert]:
    """Raise ``publish_stalled`` when publishing stalled with rows waiting (once per stall).

    :param now: the time to judge at.
    :param sync_conn_id: the ``sync`` database.
    :return: the alerts raised now (none when not stalled, or raised already for this stall).
    """
    from include.symphonics.db import connect
    from include.symphonics.sql import SqlFolder

    query = SqlFolder("publish").query

    with connect(sync_conn_id) as conn:
        row = conn.execute(query("publish_health")).fetchone()
    last_finished_at, backlog = (row[0], int(row[1])) if row else (None, 0)
    alert = publish_stalled_alert(last_finished_at, backlog, now, publish_stale_after())
    if alert is None:
        return []
    since = "never" if last_finished_at is None else last_finished_at.isoformat()
    return _raise(alert, PUBLISH_DAG_ID, f"watchdog:publish_stalled:{since}", sync_conn_id)


def check_reconcile(now: datetime, schedule: str, sync_conn_id: str = SYNC_CONN_ID) -> list[Alert]:
    """Raise ``reconcile_late`` when the last tick past its deadline has no snapshot built (once per tick).

    :param now: the time to judge at.
    :param schedule: the reconcile DAG's cron schedule (in Europe/Paris).
    :param sync_conn_id: the ``sync`` database.
    :return: the alerts raised now.
    """
    from include.symphonics.db import connect
    from include.symphonics.sql import SqlFolder

    query = SqlFolder("reconcile").query

    done_by = reconcile_done_by()
    due = reconcile_due(now, schedule, done_by)
    with connect(sync_conn_id) as conn:
        row = conn.execute(query("snapshot_due"), {"snapshot_date": due.snapshot_date}).fetchone()
    built, ran_before = (bool(row[0]), bool(row[1])) if row else (False, False)
    if built or not ran_before:
        return []
    alert = Alert(
        "reconcile_late",
        "critical",
        f"the reconcile of {due.snapshot_date} has not finished by {done_by.strftime('%H:%M')} ({RECONCILE_TIMEZONE}):"
        " the analysts' snapshot and the partner's statuses are not up to date",
        {
            "snapshot_date": due.snapshot_date,
            "tick": due.tick.isoformat(),
            "deadline": due.deadline.isoformat(),
        },
    )
    return _raise(alert, RECONCILE_DAG_ID, f"watchdog:reconcile_late:{due.snapshot_date}", sync_conn_id)
