"""The alert rules, evaluated by the reconcile DAG's ``evaluate_alerts`` task over the run and the sync database."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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
    :param failed_runs_total: per watched DAG, its failed runs so far (None: Airflow could not be asked).
    :param poll: the poll task's counts (None when it did not run).
    """

    failed_tasks: tuple[str, ...] = ()
    failed_runs_total: Mapping[str, int] = field(default_factory=dict)
    poll: Mapping[str, Any] | None = None


def evaluate(sync_dsn: str, snapshot_date: date | None, run: RunFacts, settings: ReconcileSettings) -> list[Alert]:
    """Apply every rule; return the alerts to raise (none when all is well).

    :param sync_dsn: the ``sync`` database.
    :param snapshot_date: the run's snapshot date (None when the snapshot was not built).
    :param run: facts from Airflow.
    :param settings: the thresholds.
    """
    alerts: list[Alert] = []
    if run.failed_tasks:
        alerts.append(
            Alert(
                "failed_run",
                "critical",
                f"this reconciliation run has {len(run.failed_tasks)} failed task(s): {', '.join(run.failed_tasks)}",
                {"failed_tasks": list(run.failed_tasks)},
            )
        )
    since = datetime.now(UTC) - settings.alert_window
    with psycopg.connect(sync_dsn, row_factory=dict_row) as conn:
        for dag_id, total in sorted(run.failed_runs_total.items()):
            seen_row = conn.execute(query("failed_runs_seen"), {"dag_id": dag_id}).fetchone()
            seen = int(next(iter(seen_row.values()))) if seen_row else 0
            if total > seen:
                alerts.append(
                    Alert(
                        f"failed_runs_{dag_id}",
                        "critical",
                        f"{total - seen} new failed run(s) of {dag_id}",
                        {"dag_id": dag_id, "failed_runs_total": total, "new_failed_runs": total - seen},
                    )
                )
        facts = conn.execute(query("alert_facts"), {"snapshot_date": snapshot_date, "since": since}).fetchone() or {}

    decided, rejected = int(facts.get("decided") or 0), int(facts.get("rejected") or 0)
    if decided >= settings.rejected_min_decided and rejected / decided > settings.rejected_share_threshold:
        alerts.append(
            Alert(
                "rejected_share",
                "warning",
                f"{rejected} of {decided} decided interventions are rejected ({rejected / decided:.0%}, "
                f"threshold {settings.rejected_share_threshold:.0%})",
                {"decided": decided, "rejected": rejected, "threshold": settings.rejected_share_threshold},
            )
        )

    poll = run.poll or {}
    deferred_polls = int(poll.get("deferred") or 0) if poll.get("quota_exhausted") else 0
    publish_deferred = int(facts.get("publish_runs_deferred") or 0)
    if deferred_polls or publish_deferred:
        alerts.append(
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
        )

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
