"""Minimisation: once a row is finished, its personal values give way to fingerprints.

A row a publish run still works on (``pending``, ``prevalidated``, ``ready``, ``sending``, ``failed_retryable``)
keeps what the send needs in clear. Once it leaves those states, its source record, payloads and ``changed_fields``
keep the non-personal fields and, for each personal value, a salted fingerprint (:mod:`.fields`): the extraction's
``source_fingerprint`` is untouched (an unchanged app row stays skipped), and an edit after publication is still
named by the diff. A change in the app brings the row back in clear (the extraction reads it again).
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from include.symphonics.privacy.fields import minimise_changed_fields, minimise_documents, minimise_record
from include.symphonics.privacy.sqlfiles import query

log = logging.getLogger(__name__)


def _json(value: Any) -> Jsonb | None:
    return None if value is None else Jsonb(value)


def minimised_row(row: dict[str, Any]) -> dict[str, Any]:
    """The update of one ledger row: its records minimised.

    :param row: ``id``, ``external_id``, ``source``, ``payload``, ``sent_payload``, ``sent_documents``,
        ``changed_fields``.
    """
    salt = str(row["external_id"])
    return {
        "id": row["id"],
        "source": _json(minimise_record(row["source"], salt)),
        "payload": _json(minimise_record(row["payload"], salt)),
        "sent_payload": _json(minimise_record(row["sent_payload"], salt)),
        "sent_documents": Jsonb(minimise_documents(row["sent_documents"])),
        "changed_fields": _json(minimise_changed_fields(row["changed_fields"], salt)),
    }


def minimise_finished_rows(sync_dsn: str, *, batch_size: int = 1000) -> int:
    """Minimise every finished row not minimised yet, batch by batch; returns how many.

    :param sync_dsn: the ``sync`` database.
    :param batch_size: rows per transaction.
    """
    done = 0
    after_id = 0
    with psycopg.connect(sync_dsn) as sync:
        while True:
            with sync.transaction(), sync.cursor(row_factory=dict_row) as cur:
                cur.execute(query("claim_for_minimising"), {"after_id": after_id, "batch_size": batch_size})
                rows = cur.fetchall()
                if not rows:
                    break
                cur.executemany(query("minimise_update"), [minimised_row(row) for row in rows])
                after_id = rows[-1]["id"]
                done += len(rows)
    log.info("personal data minimised on %s finished ledger row(s)", done)
    return done
