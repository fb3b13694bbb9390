"""The erasure's index (``symphonics.subject_keys``, migration 0017): lookup, key rotation, one-off backfill.

The extraction writes the keyed hash of each intervention's customer id and e-mail
(``include/symphonics/core/subject_keys.py``). Here:

* :func:`find_interventions`: the interventions of one person, by the hash at every key version;
* :func:`rehash`: a rotation's job. Ops append a key to the connection ``symphonics_subject_keys``; every stored
  hash is then hashed again with the new key(s), in bounded batches, by the nightly reconcile (or
  ``python -m include.symphonics.privacy rehash``). Lookups find rows of either version meanwhile;
* :func:`index_ledger`: hashes for ledger rows extracted before the index existed (the app's customer id and
  e-mail, and the record's e-mail when still in clear); run once after migration 0017.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg

from include.symphonics.core.subject_keys import CUSTOMER_ID, EMAIL, SubjectKeys
from include.symphonics.privacy.sqlfiles import query
from include.symphonics.sql import SqlFolder

log = logging.getLogger(__name__)

#: The extraction's statement that records hashes (one statement for both writers).
_RECORD = SqlFolder("publish").query("subject_keys_record")


def find_interventions(
    sync: psycopg.Connection, keys: SubjectKeys, *, email: str | None = None, customer_id: int | None = None
) -> set[str]:
    """The external ids of the interventions whose customer had this e-mail (any case) or this app id.

    :param sync: a connection to the ``sync`` database.
    :param keys: the index's keys.
    :param email: the e-mail, or None.
    :param customer_id: the app's ``customers.id``, or None.
    """
    pairs = [
        *(keys.chain(EMAIL, email) if email else []),
        *(keys.chain(CUSTOMER_ID, customer_id) if customer_id is not None else []),
    ]
    if not pairs:
        return set()
    rows = sync.execute(
        query("subject_lookup"),
        {"key_versions": [version for version, _ in pairs], "key_hashes": [digest for _, digest in pairs]},
    ).fetchall()
    return {str(row[0]) for row in rows}


def rehash(sync_dsn: str, keys: SubjectKeys, *, batch_size: int = 5000, max_batches: int | None = None) -> int:
    """Bring every stored hash to the current key version; the number of hashes moved.

    Each batch is its own transaction (short locks); rows an erasure holds are skipped until the next batch.

    :param sync_dsn: the ``sync`` database.
    :param keys: the index's keys, the newest last.
    :param batch_size: hashes per transaction.
    :param max_batches: stop after this many batches (the nightly job's bound); None to finish.
    """
    moved = 0
    batches = 0
    with psycopg.connect(sync_dsn) as sync:
        while max_batches is None or batches < max_batches:
            with sync.transaction():
                rows = sync.execute(
                    query("subject_rehash_batch"), {"version": keys.version, "batch_size": batch_size}
                ).fetchall()
                if not rows:
                    break
                new_hashes = []
                for version, digest, _ in rows:
                    for step in range(int(version), keys.version):
                        digest = keys.rehash(bytes(digest), step)
                    new_hashes.append(bytes(digest))
                sync.execute(
                    query("subject_rehash_move"),
                    {
                        "version": keys.version,
                        "old_versions": [int(row[0]) for row in rows],
                        "old_hashes": [bytes(row[1]) for row in rows],
                        "external_ids": [str(row[2]) for row in rows],
                        "new_hashes": new_hashes,
                    },
                )
            moved += len(rows)
            batches += 1
    if moved:
        log.info("erasure index: %s hash(es) moved to key version %s in %s batch(es)", moved, keys.version, batches)
    return moved


def index_ledger(sync_dsn: str, app_dsn: str | None, keys: SubjectKeys, *, batch_size: int = 5000) -> int:
    """Write the hashes of ledger rows that have none (extracted before migration 0017); rows indexed.

    :param sync_dsn: the ``sync`` database.
    :param app_dsn: the app's database (read only) for the customer id and current e-mail; None: only the
        records' e-mails still in clear are indexed.
    :param keys: the index's keys.
    :param batch_size: ledger rows per transaction.
    """
    indexed = 0
    after_id = 0
    app = psycopg.connect(app_dsn) if app_dsn is not None else None
    try:
        if app is not None:
            app.read_only = True
        with psycopg.connect(sync_dsn) as sync:
            while True:
                with sync.transaction():
                    rows = sync.execute(
                        query("subject_unindexed"), {"after_id": after_id, "batch_size": batch_size}
                    ).fetchall()
                    if not rows:
                        break
                    after_id = int(rows[-1][0])
                    from_app = _app_identifiers(app, [int(row[2]) for row in rows])
                    versions: list[int] = []
                    hashes: list[bytes] = []
                    external_ids: list[str] = []
                    for _, external_id, app_id, clear_email in rows:
                        identifiers = {(EMAIL, str(clear_email))} if clear_email else set()
                        identifiers.update(from_app.get(int(app_id), ()))
                        for kind, value in identifiers:
                            versions.append(keys.version)
                            hashes.append(keys.current(kind, value))
                            external_ids.append(str(external_id))
                        indexed += 1 if identifiers else 0
                    sync.execute(
                        _RECORD,
                        {"key_versions": versions, "key_hashes": hashes, "external_ids": external_ids},
                    )
    finally:
        if app is not None:
            app.close()
    log.info("erasure index: %s ledger row(s) indexed", indexed)
    return indexed


def _app_identifiers(app: psycopg.Connection | None, app_ids: list[int]) -> dict[int, set[tuple[str, str]]]:
    """By the app's intervention id: its customer's id and e-mail, from the app."""
    found: dict[int, set[tuple[str, str]]] = {}
    if app is None:
        return found
    rows: list[Any] = app.execute(query("app_subject_of_interventions"), {"ids": app_ids}).fetchall()
    app.commit()
    for app_id, customer_id, email in rows:
        entry = found.setdefault(int(app_id), {(CUSTOMER_ID, str(customer_id))})
        if email:
            entry.add((EMAIL, str(email)))
    return found
