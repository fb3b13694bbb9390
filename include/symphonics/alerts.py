"""Alerts of the Symphonics sync, through an Airflow notifier.

:class:`SymphonicsAlertNotifier` writes each alert to ``symphonics.alerts`` and the task log; an Airflow
connection (``conn_id``, or ``SYMPHONICS_ALERT_CONN_ID``) plugs another channel in: its ``conn_type`` picks a
sender from :data:`CHANNELS` (``http``: a JSON POST such as a Slack incoming webhook takes; others can be
registered with :func:`register_channel`, e.g. an e-mail sender). It is called by the reconcile DAG's explicit
``evaluate_alerts`` task (in Airflow 3 a DAG's own failure callback runs in the dag-processor, not in a task), and
can also serve as a task's ``on_failure_callback``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow.sdk.bases.notifier import BaseNotifier

from include.symphonics.db import SYNC_CONN_ID

log = logging.getLogger(__name__)

SEVERITIES = ("info", "warning", "critical")


@dataclass(frozen=True)
class Alert:
    """One alert.

    :param kind: what rule raised it (``failed_run``, ``rejected_share``...): one per run and kind.
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


#: A sender per connection type: ``sender(connection, alert)`` delivers one alert or raises.
Sender = Callable[[Any, Alert], None]
CHANNELS: dict[str, Sender] = {}


def register_channel(conn_type: str, sender: Sender) -> None:
    """Make alerts go to connections of ``conn_type`` through ``sender`` (e.g. an SMTP sender for ``smtp``).

    :param conn_type: the Airflow connection type.
    :param sender: called with the connection and the alert.
    """
    CHANNELS[conn_type] = sender


def alert_url(conn_type: str, host: str, schema: str | None, port: int | None) -> str:
    """The URL of an ``http`` connection, whichever way it was written.

    A URI (``http://127.0.0.1:8123/alerts``) reaches Airflow as conn_type = scheme, host, port and
    schema = path; the UI form may hold the full URL in the host, or ``http``/``https`` in the schema field
    (as HttpHook reads it).
    """
    if "://" in host:
        scheme, rest = host.split("://", 1)
    elif schema in ("http", "https"):
        scheme, rest = schema, host
    else:
        scheme, rest = ("http" if conn_type == "http" else "https"), host
    path = ""
    if schema and schema not in ("http", "https"):
        path = schema if schema.startswith("/") else f"/{schema}"
    netloc, _, host_path = rest.partition("/")
    if port and ":" not in netloc:
        netloc = f"{netloc}:{port}"
    return f"{scheme}://{netloc}{('/' + host_path) if host_path else ''}{path}"


def _post_json(connection: Any, alert: Alert) -> None:
    """``http`` connections: POST ``{"text": ...}`` (the body a Slack incoming webhook takes) to the host URL."""
    import requests

    url = alert_url(connection.conn_type or "", connection.host or "", connection.schema, connection.port)
    text = f"[{alert.severity}] {alert.kind}: {alert.message}"
    response = requests.post(url, json={"text": text, "details": dict(alert.details)}, timeout=10)
    response.raise_for_status()


register_channel("http", _post_json)


class SymphonicsAlertNotifier(BaseNotifier):
    """Record alerts in ``symphonics.alerts`` and the log; send them to ``conn_id`` too when given.

    Used as a callback with no ``alerts``, it raises one ``failed_task`` alert about the failed task of the context.

    :param alerts: the alerts to raise.
    :param sync_conn_id: the ``sync`` database (or a libpq string / URL).
    :param conn_id: an Airflow connection of another channel (Slack webhook, e-mail...), or None.
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
        task_id = getattr(ti, "task_id", None)
        return [Alert("failed_task", "critical", f"task {task_id} failed", {"task_id": task_id})]

    def notify(self, context: Mapping[str, Any]) -> None:  # type: ignore[override,unused-ignore]
        """Raise the alerts: log line, table row, then the plugged channel (its failure is logged, not raised)."""
        from psycopg.types.json import Jsonb

        from include.symphonics.db import connect
        from include.symphonics.sql import SqlFolder

        query = SqlFolder("reconcile").query

        dag_run = context.get("dag_run")
        dag_id = getattr(dag_run, "dag_id", None)
        run_id = getattr(dag_run, "run_id", None) or context.get("run_id")
        self.raised = []
        with connect(self.sync_conn_id, autocommit=True) as conn:
            for alert in self._alerts_of(context):
                via = ["table", "log"]
                if self.conn_id and self._send(alert):
                    via.append(self.conn_id)
                row = conn.execute(
                    query("alert_insert"),
                    {
                        "kind": alert.kind,
                        "severity": alert.severity,
                        "message": alert.message,
                        "details": Jsonb(dict(alert.details)),
                        "dag_id": dag_id,
                        "run_id": run_id,
                        "notified_via": via,
                    },
                ).fetchone()
                if row is None:
                    continue  # raised already by an earlier try of this run
                self.raised.append(alert)
                level = logging.ERROR if alert.severity == "critical" else logging.WARNING
                log.log(
                    level,
                    "ALERT [%s] %s: %s %s",
                    alert.severity,
                    alert.kind,
                    alert.message,
                    json.dumps(dict(alert.details), default=str, sort_keys=True),
                )

    def _send(self, alert: Alert) -> bool:
        from airflow.sdk import BaseHook

        try:
            connection = BaseHook.get_connection(str(self.conn_id))
            sender = CHANNELS.get(connection.conn_type or "")
            if sender is None:
                log.warning(
                    "no alert sender for connection type %r: register one with register_channel()", connection.conn_type
                )
                return False
            sender(connection, alert)
            return True
        except Exception as exc:
            # The alert is in the table and the log whatever happens to the extra channel.
            log.error("alert %s could not be sent through %s: %s", alert.kind, self.conn_id, type(exc).__name__)
            return False
