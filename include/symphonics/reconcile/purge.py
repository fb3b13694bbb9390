"""Retention: raw webhook bodies, webhook refusals and the partner call log are kept a configurable number of days."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import psycopg

from include.symphonics.reconcile.sqlfiles import query

log = logging.getLogger(__name__)


def purge(
    sync_dsn: str,
    *,
    body_retention: timedelta,
    api_calls_retention: timedelta,
    refusal_retention: timedelta | None = None,
) -> dict[str, int]:
    """Blank raw webhook bodies (and signed bodies of rejections) older than ``body_retention``, delete
    ``api_calls`` rows older than ``api_calls_retention``, and webhook refusal counts and samples older than
    ``refusal_retention``. Parsed event fields and the status history stay.

    :param sync_dsn: the ``sync`` database.
    :param body_retention: how long a raw body is kept.
    :param api_calls_retention: how long a call-log row is kept.
    :param refusal_retention: how long refusal counts and sampled refused requests are kept (None: forever).
    """
    now = datetime.now(UTC)
    with psycopg.connect(sync_dsn) as conn, conn.transaction():
        bodies = conn.execute(query("purge_webhook_bodies"), {"before": now - body_retention}).fetchone()
        calls = conn.execute(query("purge_api_calls"), {"before": now - api_calls_retention}).rowcount
        refusals = None
        if refusal_retention is not None:
            refusals = conn.execute(query("purge_webhook_refusals"), {"before": now - refusal_retention}).fetchone()
    result = {
        "webhook_bodies": int(bodies[0]) if bodies else 0,
        "rejection_bodies": int(bodies[1]) if bodies else 0,
        "api_calls": calls,
        "refusal_counts": int(refusals[0]) if refusals else 0,
        "refusal_samples": int(refusals[1]) if refusals else 0,
    }
    log.info(
        "purge: %(webhook_bodies)s webhook bodies, %(rejection_bodies)s rejection bodies, %(api_calls)s calls, "
        "%(refusal_counts)s refusal count rows, %(refusal_samples)s refusal samples",
        result,
    )
    return result
