"""Retention of the tables that grow with time, applied by the nightly reconcile's ``purge`` task.

Each growing table's policy is listed in docs/OPERATIONS.md ("Retention"). The large ones are purged in bounded
batches, each its own short transaction, through migration 0020's ``SECURITY DEFINER`` functions (the pipeline's
role may only execute them: ``ledger_history`` is read-only to it, and no function removes what is younger than
its floor); each walks an index on its time column, so a night with nothing due costs a few index pages. The two
small tables of refused webhook requests are purged by one statement each.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from include.symphonics.reconcile.sqlfiles import query

log = logging.getLogger(__name__)

#: Rows one batch removes or blanks at most (migration 0020 allows 1 to 50,000).
DEFAULT_BATCH_SIZE = 10_000


def purge(
    sync_dsn: str,
    *,
    body_retention: timedelta,
    api_calls_retention: timedelta,
    refusal_retention: timedelta | None = None,
    event_retention: timedelta | None = None,
    ledger_history_retention: timedelta | None = None,
    dry_run_retention: timedelta | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    now: datetime | None = None,
) -> dict[str, int]:
    """Blank raw webhook bodies (and signed bodies of rejections) older than ``body_retention``, delete
    ``api_calls`` rows older than ``api_calls_retention``, processed webhook events, ledger history and dry-run
    results older than theirs, and webhook refusal counts and samples older than ``refusal_retention``.

    :param sync_dsn: the ``sync`` database.
    :param body_retention: how long a raw body is kept.
    :param api_calls_retention: how long a call-log row is kept.
    :param refusal_retention: how long refusal counts and sampled refused requests are kept (None: forever).
    :param event_retention: how long a processed webhook event is kept (None: forever).
    :param ledger_history_retention: how long a ledger row's history is kept (None: forever).
    :param dry_run_retention: how long a dry run's results are kept (the newest run's always; None: forever).
    :param batch_size: rows per batch (one transaction each).
    :param now: the clock (tests).
    """
    now = now or datetime.now(UTC)
    batched = {
        "webhook_bodies": ("purge_webhook_bodies", body_retention),
        "api_calls": ("purge_api_calls", api_calls_retention),
        "webhook_events": ("purge_webhook_events", event_retention),
        "ledger_history": ("purge_ledger_history", ledger_history_retention),
        "dry_run_results": ("purge_dry_run_results", dry_run_retention),
    }
    with psycopg.connect(sync_dsn, autocommit=True) as conn:
        result, batches = _purge_in_batches(conn, batched, now=now, batch_size=batch_size)
        result.update(
            _purge_small_tables(conn, now=now, body_retention=body_retention, refusal_retention=refusal_retention)
        )
    result["batches"] = batches
    log.info(
        "purge: %(webhook_bodies)s webhook bodies, %(rejection_bodies)s rejection bodies, %(api_calls)s calls, "
        "%(webhook_events)s webhook events, %(ledger_history)s ledger history rows, %(dry_run_results)s dry-run "
        "results, %(refusal_counts)s refusal count rows, %(refusal_samples)s refusal samples, in %(batches)s "
        "batches",
        result,
    )
    return result


def _purge_in_batches(
    conn: psycopg.Connection[tuple[Any, ...]],
    batched: dict[str, tuple[str, timedelta | None]],
    *,
    now: datetime,
    batch_size: int,
) -> tuple[dict[str, int], int]:
    """Call each table's purge function until a batch removes fewer than ``batch_size`` rows.

    :param conn: the ``sync`` database, in autocommit (each batch its own transaction).
    :param batched: per result key, the function of migration 0020 and the table's retention (None: kept forever).
    :param now: the clock.
    :param batch_size: rows per batch.
    :return: the rows purged per key (0 for a table kept forever), and how many batches were run.
    """
    purged: dict[str, int] = {}
    batches = 0
    for key, (function, retention) in batched.items():
        purged[key] = 0
        if retention is None:
            continue
        statement = query("purge_batch").format(function=sql.Identifier("symphonics", function))
        while True:
            row = conn.execute(statement, {"before": now - retention, "batch_size": batch_size}).fetchone()
            done = int(row[0]) if row and row[0] is not None else 0
            purged[key] += done
            batches += 1
            if done < batch_size:
                break
    return purged, batches


def _purge_small_tables(
    conn: psycopg.Connection[tuple[Any, ...]],
    *,
    now: datetime,
    body_retention: timedelta,
    refusal_retention: timedelta | None,
) -> dict[str, int]:
    """Blank old rejection bodies and delete old refusal counts and samples, one statement each, in one transaction.

    :param conn: the ``sync`` database.
    :param now: the clock.
    :param body_retention: how long a raw body is kept.
    :param refusal_retention: how long refusal counts and samples are kept (None: forever).
    :return: ``rejection_bodies``, ``refusal_counts`` and ``refusal_samples``: the rows changed.
    """
    with conn.transaction():
        rejection_bodies = conn.execute(query("purge_rejection_bodies"), {"before": now - body_retention}).rowcount
        refusals = None
        if refusal_retention is not None:
            refusals = conn.execute(query("purge_webhook_refusals"), {"before": now - refusal_retention}).fetchone()
    return {
        "rejection_bodies": rejection_bodies,
        "refusal_counts": int(refusals[0]) if refusals else 0,
        "refusal_samples": int(refusals[1]) if refusals else 0,
    }
