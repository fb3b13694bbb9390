"""Apply the received webhook events to the ledger and the status history, in event order, in one transaction."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import psycopg

from include.symphonics.db.history import set_run
from include.symphonics.reconcile.sqlfiles import query

log = logging.getLogger(__name__)


@dataclass
class WebhookApplyCounts:
    """What one application of the pending events did."""

    pending: int = 0
    conflicts_completed: int = 0
    history_rows: int = 0
    processed: int = 0
    unmatched: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counts, for XCom and the log."""
        return asdict(self)


def apply_webhook_events(sync_dsn: str, *, run_id: str | None) -> WebhookApplyCounts:
    """Apply every pending event: complete ``conflict_unresolved`` rows from the ids events carry, add one
    ``status_history`` row per event, move each intervention's current partner status forward (in event time),
    and mark the events processed. Events matching no ledger row stay pending for a later run.

    :param sync_dsn: the ``sync`` database.
    :param run_id: the Airflow run, recorded on the history rows.
    """
    counts = WebhookApplyCounts()
    with psycopg.connect(sync_dsn) as conn, conn.transaction():
        set_run(conn, run_id)  # the conflicts it completes are this run's in the ledger's history
        conn.execute(query("pending_webhooks"))
        counts.pending = _count(conn.execute(query("pending_count")).fetchone())
        if counts.pending == 0:
            return counts
        counts.conflicts_completed = len(conn.execute(query("complete_conflicts")).fetchall())
        if counts.conflicts_completed:
            conn.execute(query("match_pending"))
        counts.history_rows = conn.execute(query("history_from_webhooks"), {"run_id": run_id}).rowcount
        conn.execute(query("sync_state_from_webhooks"))
        counts.processed = conn.execute(query("mark_webhooks_processed")).rowcount
        counts.unmatched = counts.pending - counts.processed
    log.info(
        "webhooks: %s pending, %s applied (%s history rows), %s conflict(s) completed, %s matching no ledger row",
        counts.pending,
        counts.processed,
        counts.history_rows,
        counts.conflicts_completed,
        counts.unmatched,
    )
    return counts


def _count(row: tuple[object, ...] | None) -> int:
    return int(row[0]) if row is not None else 0  # type: ignore[call-overload]
