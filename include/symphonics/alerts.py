"""Alerts of the Symphonics sync: a row in ``symphonics.alerts``, a log line, and a notice through Apprise.

Every alert is written first, then sent, once per new row: the insert says whether the alert is new (a retried
task, or a watchdog that sees the same condition again, inserts nothing and so sends nothing). The notice goes to
the Airflow connection named by ``SYMPHONICS_ALERT_CONN_ID`` (or ``conn_id``), an ``apprise`` connection of
``apache-airflow-providers-apprise`` whose extra ``config`` holds ``{"path": URL}`` or a list of them: Slack, Teams,
e-mail (``mailto://``), PagerDuty, Opsgenie, ntfy, a JSON webhook (``json://``)... one URL per target.

Two shapes of alert:

* an alert of a run (:class:`SymphonicsAlertNotifier`): one per DAG, run and kind. Used as a task's
  ``on_failure_callback`` with no alerts, it raises one ``failed_run`` alert per failed run, whichever of its tasks
  fail; the reconcile DAG's ``evaluate_alerts`` task passes the alerts its rules found.
* an episode (:func:`raise_episode`, :func:`resolve_episode`): a condition that lasts (the partner down, dead
  letters waiting...), raised once when it starts, and a "resolved" notice when it ends.

A notice that cannot be delivered is logged and leaves the row as it is (``notified_via`` without the
connection): the alert is never lost, and never sent twice.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from airflow.sdk.bases.notifier import BaseNotifier

from include.symphonics.db import SYNC_CONN_ID

log = logging.getLogger(__name__)

SEVERITIES = ("info", "warning", "critical")
#: The Airflow connection type alerts are sent through.
ALERT_CONN_TYPE = "apprise"


@dataclass(frozen=True)
class Alert:
    """One alert.

    :param kind: what rule raised it (``failed_run``, ``rejected_share``...): one per run and kind, or per episode.
    :param severity: ``info``, ``warning`` or ``critical``.
    :param message: one line for a human (no personal data, no secret).
    :param details: the figures behind it.
    """

    kind: str
    severity: str
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, not {self.severity!r}")


def alert_conn_id() -> str | None:
    """``SYMPHONICS_ALERT_CONN_ID``: the ``apprise`` connection alerts are sent to, or None (table and log only)."""
    return os.environ.get("SYMPHONICS_ALERT_CONN_ID", "").strip() or None


def notice_body(alert: Alert, *, dag_id: str | None = None, run_id: str | None = None) -> str:
    """The text of an alert's notice: its message, then what raised it and its figures, one per line."""
    lines = [alert.message, "", f"kind: {alert.kind}", f"severity: {alert.severity}"]
    if dag_id:
        lines.append(f"dag: {dag_id}")
    if run_id:
        lines.append(f"run: {run_id}")
    lines.extend(f"{key}: {json.dumps(value, default=str)}" for key, value in sorted(alert.details.items()))
    return "\n".join(lines)


def send_notice(conn_id: str, *, title: str, body: str, severity: str) -> bool:
    """Send one notice to every target of the ``apprise`` connection ``conn_id``; True when all took it.

    The provider's ``AppriseHook`` reads the connection's targets; the notice goes out through an
    ``apprise.Apprise`` built from them rather than through ``AppriseNotifier``, whose ``notify`` drops
    Apprise's answer: the table must say truly whether the notice was delivered.

    :param conn_id: the Airflow connection (type ``apprise``).
    :param title: the notice's title.
    :param body: its text.
    :param severity: ``info``, ``warning``, ``critical``, or ``resolved``.
    """
    import apprise
    from airflow.providers.apprise.hooks.apprise import AppriseHook

    hook = AppriseHook(apprise_conn_id=conn_id)
    try:
        connection = hook.get_connection(conn_id)
        if connection.conn_type != ALERT_CONN_TYPE:
            log.error(
                "alert connection %s has type %r: alerts are sent through an %r connection (extra config: "
                '{"path": URL})',
                conn_id,
                connection.conn_type,
                ALERT_CONN_TYPE,
            )
            return False
        targets = apprise.Apprise()
        hook.set_config_from_conn(conn=connection, apprise_obj=targets)
        notify_type = {
            "critical": apprise.NotifyType.FAILURE,
            "warning": apprise.NotifyType.WARNING,
            "resolved": apprise.NotifyType.SUCCESS,
        }.get(severity, apprise.NotifyType.INFO)
        delivered = bool(targets.notify(body=body, title=title, notify_type=notify_type))
    except Exception as exc:
        # The alert is in the table and the log whatever happens to the channel; the error's class only, as a
        # connection's message may hold its URL (a webhook's URL is its secret).
        log.error("alert notice %r could not be sent through %s: %s", title, conn_id, type(exc).__name__)
        return False
    if not delivered:
        log.error("alert notice %r was not taken by every target of %s", title, conn_id)
    return delivered


def _log_alert(alert: Alert, prefix: str = "ALERT") -> None:
    level = logging.ERROR if alert.severity == "critical" else logging.WARNING
    details = json.dumps(dict(alert.details), default=str, sort_keys=True)
    log.log(level, "%s [%s] %s: %s %s", prefix, alert.severity, alert.kind, alert.message, details)


class SymphonicsAlertNotifier(BaseNotifier):
    """Record alerts of a run in ``symphonics.alerts`` and the log, then send each new one through Apprise.

    Used as a callback with no ``alerts``, it raises one ``failed_run`` alert about the run of the context: the
    first failed task of a run raises it, the others find it raised.

    :param alerts: the alerts to raise.
    :param sync_conn_id: the ``sync`` database (or a libpq string / URL).
    :param conn_id: the ``apprise`` connection to send to; None: ``SYMPHONICS_ALERT_CONN_ID``, if set.
    """

    template_fields = ("conn_id",)

    def __init__(
        self, alerts: Sequence[Alert] = (), *, sync_conn_id: str = SYNC_CONN_ID, conn_id: str | None = None
    ) -> None:
        super().__init__()
        self.alerts = list(alerts)
        self.sync_conn_id = sync_conn_id
        self.conn_id = conn_id
        self.raised: list[Alert] = []

    def _alerts_of(self, context: Mapping[str, Any]) -> list[Alert]:
        if self.alerts:
            return self.alerts
        ti = context.get("ti") or context.get("task_instance")
        dag_run = context.get("dag_run")
        task_id = getattr(ti, "task_id", None)
        dag_id = getattr(dag_run, "dag_id", None) or getattr(ti, "dag_id", None)
        return [
            Alert(
                "failed_run",
                "critical",
                f"a run of {dag_id} failed (first failed task: {task_id})",
                # ``failed_tasks`` as the reconcile DAG's own ``failed_run`` alert has it: whichever raises first.
                {
                    "first_failed_task": task_id,
                    "failed_tasks": [task_id],
                    "try_number": getattr(ti, "try_number", None),
                    # The error's class only: its message may quote a row's personal data or a URL's secret.
                    "error": type(error).__name__ if (error := context.get("exception")) is not None else None,
                    "log_url": getattr(ti, "log_url", None),
                },
            )
        ]

    def notify(self, context: Mapping[str, Any]) -> None:  # type: ignore[override,unused-ignore]
        """Raise the alerts: the row first (a retry finds it and stops there), the log line, then the notice."""
        from psycopg.types.json import Jsonb

        from include.symphonics.db import connect
        from include.symphonics.sql import SqlFolder

        query = SqlFolder("alerts").query
        dag_run = context.get("dag_run")
        ti = context.get("ti") or context.get("task_instance")
        dag_id = getattr(dag_run, "dag_id", None) or getattr(ti, "dag_id", None)
        run_id = getattr(dag_run, "run_id", None) or context.get("run_id")
        conn_id = self.conn_id or alert_conn_id()
        self.raised = []
        with connect(self.sync_conn_id, autocommit=True) as conn:
            for alert in self._alerts_of(context):
                row = conn.execute(
                    query("alert_insert"),
                    {
                        "kind": alert.kind,
                        "severity": alert.severity,
                        "message": alert.message,
                        "details": Jsonb(dict(alert.details)),
                        "dag_id": dag_id,
                        "run_id": run_id,
                        "notified_via": ["table", "log"],
                    },
                ).fetchone()
                if row is None:
                    continue  # raised already by an earlier try or another task of this run
                self.raised.append(alert)
                _log_alert(alert)
                if conn_id and send_notice(
                    conn_id,
                    title=f"[{alert.severity}] {alert.kind}",
                    body=notice_body(alert, dag_id=dag_id, run_id=run_id),
                    severity=alert.severity,
                ):
                    conn.execute(query("delivered"), {"id": row[0], "via": conn_id})


def raise_episode(
    alert: Alert, *, dag_id: str | None, sync_conn_id: str = SYNC_CONN_ID, conn_id: str | None = None
) -> bool:
    """Open an episode of ``alert.kind`` and send its notice, unless one is open already.

    :param alert: the alert that opens the episode.
    :param dag_id: the DAG the condition is about.
    :param sync_conn_id: the ``sync`` database (or a libpq string / URL).
    :param conn_id: the ``apprise`` connection; None: ``SYMPHONICS_ALERT_CONN_ID``, if set.
    :return: True when this call opened the episode.
    """
    from psycopg.types.json import Jsonb

    from include.symphonics.db import connect
    from include.symphonics.sql import SqlFolder

    query = SqlFolder("alerts").query
    conn_id = conn_id or alert_conn_id()
    with connect(sync_conn_id, autocommit=True) as conn:
        row = conn.execute(
            query("episode_open"),
            {
                "kind": alert.kind,
                "severity": alert.severity,
                "message": alert.message,
                "details": Jsonb(dict(alert.details)),
                "dag_id": dag_id,
                "notified_via": ["table", "log"],
            },
        ).fetchone()
        if row is None:
            return False
        _log_alert(alert)
        if conn_id and send_notice(
            conn_id,
            title=f"[{alert.severity}] {alert.kind}",
            body=notice_body(alert, dag_id=dag_id),
            severity=alert.severity,
        ):
            conn.execute(query("delivered"), {"id": row[0], "via": conn_id})
    return True


def open_episode(kind: str, sync_conn_id: str = SYNC_CONN_ID) -> Mapping[str, Any] | None:
    """The open episode of ``kind`` (``id``, ``raised_at``, ``details``), or None."""
    from psycopg.rows import dict_row

    from include.symphonics.db import connect
    from include.symphonics.sql import SqlFolder

    with connect(sync_conn_id) as conn:
        cursor = conn.cursor(row_factory=dict_row)
        return cursor.execute(SqlFolder("alerts").query("episode_open_read"), {"kind": kind}).fetchone()


def resolve_episode(kind: str, reason: str, *, sync_conn_id: str = SYNC_CONN_ID, conn_id: str | None = None) -> bool:
    """Close the open episode of ``kind`` and send a "resolved" notice; nothing when none is open.

    :param kind: the alert kind.
    :param reason: one line saying why it is over.
    :param sync_conn_id: the ``sync`` database (or a libpq string / URL).
    :param conn_id: the ``apprise`` connection; None: ``SYMPHONICS_ALERT_CONN_ID``, if set.
    :return: True when this call closed an episode.
    """
    from include.symphonics.db import connect
    from include.symphonics.sql import SqlFolder

    query = SqlFolder("alerts").query
    conn_id = conn_id or alert_conn_id()
    with connect(sync_conn_id, autocommit=True) as conn:
        row = conn.execute(query("episode_resolve"), {"kind": kind}).fetchone()
        if row is None:
            return False
        alert_id, severity, message, details, raised_at, resolved_at = row
        lasted = resolved_at - raised_at
        resolved = Alert(
            kind,
            severity,
            f"resolved: {reason} (raised {raised_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC,"
            f" lasted {int(lasted.total_seconds() // 60)} min)",
            {**dict(details or {}), "raised_message": message},
        )
        log.warning("RESOLVED %s: %s", kind, resolved.message)
        if conn_id and send_notice(
            conn_id, title=f"[resolved] {kind}", body=notice_body(resolved), severity="resolved"
        ):
            conn.execute(query("resolve_delivered"), {"id": alert_id, "via": conn_id})
    return True
