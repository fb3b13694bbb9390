"""The watchdog's alerts on publishing, the partner and the backlog, raised through the notifier.

Episodes (raised once when the condition starts, a "resolved" notice when it ends; ``include/symphonics/alerts.py``):

* ``publish_stalled``: no publish run has made progress (dry runs aside) for ``SYMPHONICS_PUBLISH_STALE_AFTER_MINUTES``
  (default 120) **and** rows wait in the ledger. Progress is a run finished or a run in progress younger than the
  limit; with no run finished yet, the stall counts from the later of the first run's start and the watchdog's
  first run.
* ``partner_unavailable``: for ``SYMPHONICS_PARTNER_DOWN_AFTER_MINUTES`` (default 15; 0: at once) every call recorded
  in ``symphonics.api_calls`` since the last one the partner answered failed (timeout, connection error, 5xx; or a
  publish run stopped ``unavailable``) while rows wait. Judged from those records, not from a process's breaker.
* ``dead_letter_added``: at least ``SYMPHONICS_DEAD_LETTER_ALERT_THRESHOLD`` (default 1) rows entered
  ``dead_letter`` since the last evaluation; over when none of the rows that entered since it began is left there.
* ``document_rejected_waiting``: a document the partner rejected ``SYMPHONICS_DOCUMENT_REJECTED_ALERT_DAYS``
  (default 2) days ago or more, with no PATCH carrying a new document since.

Once per night: ``reconcile_late``, the nightly reconcile has not built the snapshot of its tick by
``SYMPHONICS_RECONCILE_DONE_BY`` (``HH:MM``, default ``06:00``, in the reconcile's time zone); not before the first
snapshot was ever built (a new deployment's first night is not "late").

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
from typing import Any

import pendulum

from include.symphonics.alerts import Alert
from include.symphonics.core.config import env_int, env_text
from include.symphonics.db import SYNC_CONN_ID

DEFAULT_PUBLISH_STALE_AFTER_MINUTES = 120
DEFAULT_RECONCILE_DONE_BY = "06:00"
DEFAULT_PARTNER_DOWN_AFTER_MINUTES = 15
DEFAULT_DEAD_LETTER_ALERT_THRESHOLD = 1
DEFAULT_DOCUMENT_REJECTED_ALERT_DAYS = 2
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


def partner_down_after() -> timedelta:
    """``SYMPHONICS_PARTNER_DOWN_AFTER_MINUTES`` (default 15): how long every call may fail before
    ``partner_unavailable``; 0 raises it at the first evaluation that sees a failure after the last answer.

    :raises ValueError: the value is not a whole number of minutes >= 0.
    """
    return timedelta(
        minutes=env_int(
            "SYMPHONICS_PARTNER_DOWN_AFTER_MINUTES", DEFAULT_PARTNER_DOWN_AFTER_MINUTES, minimum=0, unit="minutes"
        )
    )


def dead_letter_alert_threshold() -> int:
    """``SYMPHONICS_DEAD_LETTER_ALERT_THRESHOLD`` (default 1): rows entering ``dead_letter`` between two evaluations
    that raise ``dead_letter_added``.

    :raises ValueError: the value is not a whole number >= 1.
    """
    return env_int(
        "SYMPHONICS_DEAD_LETTER_ALERT_THRESHOLD", DEFAULT_DEAD_LETTER_ALERT_THRESHOLD, minimum=1, unit="rows"
    )


def document_rejected_alert_after() -> timedelta:
    """``SYMPHONICS_DOCUMENT_REJECTED_ALERT_DAYS`` (default 2): how long a rejected document may wait for a new one.

    :raises ValueError: the value is not a whole number of days >= 0.
    """
    return timedelta(
        days=env_int(
            "SYMPHONICS_DOCUMENT_REJECTED_ALERT_DAYS", DEFAULT_DOCUMENT_REJECTED_ALERT_DAYS, minimum=0, unit="days"
        )
    )


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


@dataclass(frozen=True)
class PublishHealth:
    """What the publish runs recorded, for the stall rule (dry runs aside).

    :param last_finished_at: when a run last finished, or None.
    :param first_started_at: when the first run started, or None (none ever did).
    :param running_started_at: when the newest run still in progress started, or None.
    :param backlog: rows waiting to be sent.
    """

    last_finished_at: datetime | None
    first_started_at: datetime | None
    running_started_at: datetime | None
    backlog: int


def publish_stalled_alert(
    health: PublishHealth, watchdog_first_at: datetime, now: datetime, stale_after: timedelta
) -> Alert | None:
    """``publish_stalled`` if no publish run made progress for ``stale_after`` while rows wait, else None.

    Progress is a run finished, or a run in progress younger than the limit. With no run finished yet, the stall
    counts from the later of the first run's start and the watchdog's first run: a fresh deployment (or a new
    watchdog) is not "stalled for ever" while its first run is still going.
    """
    if health.backlog <= 0:
        return None
    if health.running_started_at is not None and now - health.running_started_at < stale_after:
        return None
    if health.last_finished_at is not None:
        since = health.last_finished_at
    else:
        since = max(watchdog_first_at, health.first_started_at or watchdog_first_at)
    if now - since < stale_after:
        return None
    minutes = int(stale_after.total_seconds() // 60)
    what = "no publish run has finished" + (" yet" if health.last_finished_at is None else "")
    return Alert(
        "publish_stalled",
        "critical",
        f"{what} for {(now - since).total_seconds() / 60:.0f} min (limit {minutes} min) while {health.backlog} rows"
        " wait",
        {
            "backlog": health.backlog,
            "last_finished_at": None if health.last_finished_at is None else health.last_finished_at.isoformat(),
            "counted_from": since.isoformat(),
            "stale_after_minutes": minutes,
        },
    )


def _raise(alert: Alert, dag_id: str, key: str, sync_conn_id: str) -> list[Alert]:
    """Through the notifier, under ``key`` as its run id: the alerts table keeps one per key and kind."""
    from include.symphonics.alerts import SymphonicsAlertNotifier

    notifier = SymphonicsAlertNotifier([alert], sync_conn_id=sync_conn_id)
    notifier.notify({"dag_run": SimpleNamespace(dag_id=dag_id, run_id=key)})
    return notifier.raised


def _mark(conn: Any, check_name: str, now: datetime, mark: int = 0) -> datetime:
    """Record that ``check_name`` ran at ``now`` (moving its mark to ``mark``); return when it first ran."""
    from include.symphonics.sql import SqlFolder

    row = conn.execute(
        SqlFolder("watchdog").query("mark_write"), {"check_name": check_name, "now": now, "mark": mark}
    ).fetchone()
    return row[0] if row else now


def _episode(alert: Alert | None, kind: str, dag_id: str, reason: str, sync_conn_id: str) -> list[Alert]:
    """Open the episode of ``kind`` with ``alert``, or close it when ``alert`` is None; the alerts raised now."""
    from include.symphonics.alerts import raise_episode, resolve_episode

    if alert is None:
        resolve_episode(kind, reason, sync_conn_id=sync_conn_id)
        return []
    return [alert] if raise_episode(alert, dag_id=dag_id, sync_conn_id=sync_conn_id) else []


def check_publish(now: datetime, sync_conn_id: str = SYNC_CONN_ID) -> list[Alert]:
    """Raise ``publish_stalled`` when publishing stalled with rows waiting (once per stall), resolve it after.

    :param now: the time to judge at.
    :param sync_conn_id: the ``sync`` database.
    :return: the alerts raised now (none when not stalled, or raised already for this stall).
    """
    from include.symphonics.db import connect
    from include.symphonics.sql import SqlFolder

    with connect(sync_conn_id, autocommit=True) as conn:
        watchdog_first_at = _mark(conn, "publish_stalled", now)
        row = conn.execute(SqlFolder("publish").query("publish_health")).fetchone()
    health = PublishHealth(row[0], row[1], row[2], int(row[3])) if row else PublishHealth(None, None, None, 0)
    alert = publish_stalled_alert(health, watchdog_first_at, now, publish_stale_after())
    return _episode(alert, "publish_stalled", PUBLISH_DAG_ID, "publish runs make progress again", sync_conn_id)


def partner_unavailable_alert(
    down_since: datetime | None, failures: int, backlog: int, now: datetime, down_after: timedelta
) -> Alert | None:
    """``partner_unavailable`` when every call since ``down_since`` failed for ``down_after`` while rows wait."""
    if down_since is None or backlog <= 0 or now - down_since < down_after:
        return None
    minutes = (now - down_since).total_seconds() / 60
    return Alert(
        "partner_unavailable",
        "critical",
        f"every call to Symphonics has failed (timeout, connection error or 5xx) for {minutes:.0f} min"
        f" ({failures} failure(s)) while {backlog} rows wait",
        {
            "down_since": down_since.isoformat(),
            "failures": failures,
            "backlog": backlog,
            "down_after_minutes": int(down_after.total_seconds() // 60),
        },
    )


def check_partner(now: datetime, sync_conn_id: str = SYNC_CONN_ID) -> list[Alert]:
    """Raise ``partner_unavailable`` from the calls recorded in ``symphonics.api_calls``; resolve it when it answers.

    :param now: the time to judge at.
    :param sync_conn_id: the ``sync`` database.
    :return: the alerts raised now.
    """
    from include.symphonics.db import connect
    from include.symphonics.sql import SqlFolder

    with connect(sync_conn_id) as conn:
        _, down_since, failures = conn.execute(SqlFolder("watchdog").query("partner_down")).fetchone() or (None,) * 3
        health = conn.execute(SqlFolder("publish").query("publish_health")).fetchone()
    backlog = int(health[3]) if health else 0
    alert = partner_unavailable_alert(down_since, int(failures or 0), backlog, now, partner_down_after())
    reason = "Symphonics answers again" if down_since is None else "no row waits any more"
    if alert is None and down_since is not None and backlog > 0:
        return []  # failing, not for long enough yet: an open episode stays open
    return _episode(alert, "partner_unavailable", PUBLISH_DAG_ID, reason, sync_conn_id)


def check_dead_letters(now: datetime, sync_conn_id: str = SYNC_CONN_ID) -> list[Alert]:
    """Raise ``dead_letter_added`` when rows entered ``dead_letter`` since the last evaluation (at least the
    threshold); the episode ends when none of the rows that entered since it began is still in ``dead_letter``.

    The first evaluation only sets its mark: rows dead-lettered before the watchdog ever ran are not "added".

    :param now: the time to judge at.
    :param sync_conn_id: the ``sync`` database.
    :return: the alerts raised now.
    """
    from include.symphonics.alerts import open_episode
    from include.symphonics.db import connect
    from include.symphonics.sql import SqlFolder

    query = SqlFolder("watchdog").query
    kind = "dead_letter_added"
    threshold = dead_letter_alert_threshold()
    with connect(sync_conn_id, autocommit=True) as conn:
        marked = conn.execute(query("mark_read"), {"check_name": kind}).fetchone()
        previous_mark = int(marked[2]) if marked else None
        counted = conn.execute(query("dead_letters_added"), {"mark": previous_mark or 0}).fetchone()
        added, reasons, mark = counted if counted else (0, {}, 0)
        if previous_mark is None:
            added, reasons = 0, {}
        episode = open_episode(kind, sync_conn_id)
        raised: list[Alert] = []
        if episode is not None:
            since_mark = int(episode["details"].get("since_mark", 0))
            waiting = conn.execute(query("dead_letters_waiting"), {"since_mark": since_mark}).fetchone()
            if waiting is not None and int(waiting[0]) == 0:
                _episode(None, kind, PUBLISH_DAG_ID, "no row that entered dead_letter is left there", sync_conn_id)
        elif added >= threshold:
            alert = Alert(
                kind,
                "warning",
                f"{added} row(s) entered dead_letter since the last check: ops must settle them (docs/RUNBOOK.md)",
                {"added": int(added), "reasons": dict(reasons), "threshold": threshold, "since_mark": previous_mark},
            )
            raised = _episode(alert, kind, PUBLISH_DAG_ID, "", sync_conn_id)
        # After the alert: a retry that failed before this point counts the same rows again, and finds the episode.
        _mark(conn, kind, now, int(mark))
    return raised


def check_rejected_documents(now: datetime, sync_conn_id: str = SYNC_CONN_ID) -> list[Alert]:
    """Raise ``document_rejected_waiting`` when a rejected document had no PATCH with a new one for D days.

    :param now: the time to judge at.
    :param sync_conn_id: the ``sync`` database.
    :return: the alerts raised now.
    """
    from include.symphonics.db import connect
    from include.symphonics.sql import SqlFolder

    after = document_rejected_alert_after()
    with connect(sync_conn_id) as conn:
        rows = conn.execute(
            SqlFolder("watchdog").query("documents_rejected_waiting"), {"before": now - after}
        ).fetchall()
    alert = None
    if rows:
        interventions = sorted({row[0] for row in rows})
        alert = Alert(
            "document_rejected_waiting",
            "warning",
            f"{len(interventions)} intervention(s) have a document Symphonics rejected more than {after.days} day(s)"
            " ago and no new one sent: the installer must add a proof",
            {
                "interventions": len(interventions),
                "external_ids": interventions[:20],
                "documents": sorted({row[1] for row in rows}),
                "oldest_rejected_at": rows[0][2].isoformat(),
                "after_days": after.days,
            },
        )
    return _episode(
        alert, "document_rejected_waiting", PUBLISH_DAG_ID, "every rejected document has a new one", sync_conn_id
    )


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
