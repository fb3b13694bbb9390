"""Copy the app's interventions into the ``sync`` database (the app's is another database: no cross-DB join).

Set-based: one ``COPY … TO STDOUT`` on the app's database streamed into one ``COPY … FROM STDIN`` on the sync
database, then one ``INSERT … SELECT``. Only interventions changed since the newest version copied (minus an
overlap) are read; each change is a new version, so the snapshot of a past date reads the version of then.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import psycopg

from include.symphonics.reconcile.sqlfiles import query

log = logging.getLogger(__name__)


def copy_app_state(app_dsn: str, sync_dsn: str, *, run_id: str | None, overlap: timedelta) -> dict[str, int]:
    """Copy the app's changed interventions (personal data masked on the app's side).

    :param app_dsn: the app's database (read only).
    :param sync_dsn: the ``sync`` database.
    :param run_id: the Airflow run, recorded on the copied rows.
    :param overlap: how far below the newest copied version to read again (late commits).
    :return: ``read`` (rows the app sent) and ``copied`` (new versions stored).
    """
    with psycopg.connect(sync_dsn) as sync_conn, sync_conn.transaction():
        since_row = sync_conn.execute(query("app_copy_since"), {"overlap": overlap}).fetchone()
        since = since_row[0] if since_row else None
        sync_conn.execute(query("app_copy_stage"))
        with (
            psycopg.connect(app_dsn) as app_conn,
            app_conn.cursor().copy(query("app_state_export"), {"since": since}) as source,
            sync_conn.cursor().copy(query("app_copy_load")) as target,
        ):
            for chunk in source:
                target.write(chunk)
        staged = sync_conn.execute(query("app_copy_staged_count")).fetchone()
        read = int(staged[0]) if staged else 0
        copied = sync_conn.execute(query("app_copy_insert"), {"run_id": run_id}).rowcount
    log.info("app state: %s intervention(s) changed since %s, %s new version(s) copied", read, since, copied)
    return {"read": read, "copied": copied}
