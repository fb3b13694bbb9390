"""The alert rules, evaluated by the reconcile DAG's ``evaluate_alerts`` task over the run and the sync database."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from include.symphonics.alerts import Alert
from include.symphonics.reconcile.settings import ReconcileSettings
from include.symphonics.reconcile.sqlfiles import query

FAILED_STATES = frozenset({"failed", "upstream_failed"})


@dataclass(frozen=True)
class RunFacts:
    """What Airflow tells the rules about runs.

    :param failed_tasks: tasks of this run that failed (or could not run because an upstream failed).
    :param poll: the poll task's counts (None when it did not run).
    """

    failed_tasks: tuple[str, ...] = ()
    poll: Mapping[str, Any] | None = None


def evaluate(sync_dsn: str, snapshot_date: date | None, run: RunFacts, settings: ReconcileSettings) -> list[Alert]:
    """Apply every rule; return the alerts to raise (none when all is well).

    :param sync_dsn: the ``sync`` database.
    :param snapshot_date: the run's snapshot date (None when the snapshot was not built).
    :param run: facts from Airflow.
    :param settings: the thresholds.
    """
    alerts = _failed_run_alerts(run)
    since = datetime.now(UTC) - settings.alert_window
    with psycopg.connect(sync_dsn, row_factory=dict_row) as conn:
        facts = conn.execute(query("alert_facts"), {"snapshot_date": snapshot_date, "since": since}).fetchone() or {}
    alerts.extend(_rejected_share_alerts(facts, settings))
    alerts.extend(_quota_alerts(facts, run))
    alerts.extend(_webhook_alerts(facts, settings))
    return alerts


def _failed_run_alerts(run: RunFacts) -> list[Alert]:
    """``failed_run``: this run has failed tasks.

    :param run: facts from Airflow.
    """
    if not run.failed_tasks:
        return []
    return [
        Alert(
            "failed_run",
            "critical",
            f"this reconciliation run has {len(run.failed_tasks)} failed task(s): {', '.join(run.failed_tasks)}",
            {"failed_tasks": list(run.failed_tasks)},
        )
    ]


def _rejected_share_alerts(facts: Mapping[str, Any], settings: ReconcileSettings) -> list[Alert]:
    """``rejected_share``: too large a share of the decided interventions are rejected.

    :param facts: the row of ``alert_facts.sql``.
    :param settings: the thresholds.
    """
    decided, rejected = int(facts.get("decided") or 0), int(facts.get("rejected") or 0)
    if not (decided >= settings.rejected_min_decided and rejected / decided > settings.rejected_share_threshold):
        return []
    return [
        Alert(
            "rejected_share",
            "warning",
            f"{rejected} of {decided} decided interventions are rejected ({rejected / decided:.0%}, "
            f"threshold {settings.rejected_share_threshold:.0%})",
            {"decided": decided, "rejected": rejected, "threshold": settings.rejected_share_threshold},
        )
    ]


def _quota_alerts(facts: Mapping[str, Any], run: RunFacts) -> list[Alert]:
    """``quota_before_backlog``: status polls or publish runs were deferred because the quota was spent.

    :param facts: the row of ``alert_facts.sql``.
    :param run: facts from Airflow (the poll task's counts).
    """
    poll = run.poll or {}
    deferred_polls = int(poll.get("deferred") or 0) if poll.get("quota_exhausted") else 0
    publish_deferred = int(facts.get("publish_runs_deferred") or 0)
    if not (deferred_polls or publish_deferred):
        return []
    return [
        Alert(
            "quota_before_backlog",
            "warning",
            "the quota was spent before the backlog was drained "
            f"({deferred_polls} status poll(s) deferred, {publish_deferred} publish run(s) deferred by quota)",
            {
                "deferred_polls": deferred_polls,
                "publish_runs_deferred": publish_deferred,
                "publish_backlog": facts.get("publish_backlog"),
            },
        )
    ]


def _webhook_alerts(facts: Mapping[str, Any], settings: ReconcileSettings) -> list[Alert]:
    """``webhook_signature_failures`` and ``webhook_late_events``: requests badly signed, events come late.

    :param facts: the row of ``alert_facts.sql``.
    :param settings: the thresholds.
    """
    alerts: list[Alert] = []
    signature_failures = int(facts.get("signature_failures") or 0)
    if signature_failures > settings.signature_failures_threshold:
        alerts.append(
            Alert(
                "webhook_signature_failures",
                "warning",
                f"{signature_failures} webhook request(s) with a missing or bad signature over the window",
                {"signature_failures": signature_failures, "threshold": settings.signature_failures_threshold},
            )
        )
    events, late = int(facts.get("webhook_events") or 0), int(facts.get("late_events") or 0)
    if late and late / max(events, 1) > settings.late_share_threshold:
        alerts.append(
            Alert(
                "webhook_late_events",
                "warning",
                f"{late} of {events} webhook event(s) came late ({late / max(events, 1):.0%})",
                {"late_events": late, "webhook_events": events, "threshold": settings.late_share_threshold},
            )
        )
    return alerts
