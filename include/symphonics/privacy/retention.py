"""Retention: personal data of finished rows is removed a configurable number of days after they finished.

Set-based, in batches (one ``UPDATE`` of ``batch_size`` rows per transaction, ``sql/privacy/retention_batch.sql``),
so locks stay short and a publish run is never blocked for long. The ledger's states, ids, reasons, timestamps
and fingerprints stay: the sync's own facts and the analysts' counts do not change.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from include.symphonics.core.markers import removal_marker
from include.symphonics.privacy.fields import dotted_paths
from include.symphonics.privacy.sqlfiles import query

log = logging.getLogger(__name__)


@dataclass
class RetentionCounts:
    """What a retention pass did."""

    ledger_rows: int = 0
    batches: int = 0
    expired_lookups: int = 0
    expired_pdl_validations: int = 0
    expired_installer_validations: int = 0
    rejection_senders: int = 0

    def as_dict(self) -> dict[str, Any]:
        """For XCom and the log."""
        return dict(self.__dict__)


def apply_retention(
    sync_dsn: str, *, retention: timedelta, batch_size: int = 5000, now: datetime | None = None
) -> RetentionCounts:
    """Remove the personal data of the finished rows whose last state change is older than ``retention``,
    delete the expired validation caches, and forget the senders of webhook requests refused before then.

    :param sync_dsn: the ``sync`` database.
    :param retention: how long a finished row keeps its personal data.
    :param batch_size: rows per transaction.
    :param now: the reference time (the database's clock otherwise would differ between batches).
    """
    now = now or datetime.now(UTC)
    counts = RetentionCounts()
    params = {
        "before": now - retention,
        "batch_size": batch_size,
        "paths": dotted_paths(),
        "marker": Jsonb(removal_marker("retention")),
    }
    with psycopg.connect(sync_dsn) as sync:
        while True:
            with sync.transaction():
                changed = sync.execute(query("retention_batch"), params).rowcount
            if changed <= 0:
                break
            counts.batches += 1
            counts.ledger_rows += changed
        with sync.transaction():
            expired = sync.execute(query("retention_caches"), {"now": now, "before": params["before"]}).fetchone()
    if expired is not None:
        (
            counts.expired_lookups,
            counts.expired_pdl_validations,
            counts.expired_installer_validations,
            counts.rejection_senders,
        ) = (int(value) for value in expired)
    log.info(
        "retention %s days: personal data removed from %s ledger row(s) in %s batch(es); expired cache rows "
        "deleted: %s lookups, %s PDL validations, %s installer validations; %s refused webhook senders forgotten",
        retention.days,
        counts.ledger_rows,
        counts.batches,
        counts.expired_lookups,
        counts.expired_pdl_validations,
        counts.expired_installer_validations,
        counts.rejection_senders,
    )
    return counts
