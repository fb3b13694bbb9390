"""Optional write-back (off by default): the partner's latest status of each intervention into the ONE table this
project owns in the app's database, ``symphonics_sync.intervention_status`` (schema of its own, created by
``sql/reconcile/writeback_schema.sql`` when enabled). Nothing else is ever written to the app's database.
"""

from __future__ import annotations

import logging

import psycopg

from include.symphonics.reconcile.sqlfiles import query

log = logging.getLogger(__name__)


def write_back(sync_dsn: str, app_dsn: str) -> dict[str, int]:
    """Stream the current statuses from the sync database into the app's table; only changed rows are written.

    :param sync_dsn: the ``sync`` database.
    :param app_dsn: the app's database.
    :return: ``written``: rows inserted or changed.
    """
    with psycopg.connect(app_dsn) as app_conn, app_conn.transaction():
        app_conn.execute(query("writeback_schema"))
        app_conn.execute(query("writeback_stage"))
        with (
            psycopg.connect(sync_dsn) as sync_conn,
            sync_conn.cursor().copy(query("writeback_export")) as source,
            app_conn.cursor().copy(query("writeback_load")) as target,
        ):
            for chunk in source:
                target.write(chunk)
        written = app_conn.execute(query("writeback_upsert")).rowcount
    log.info("write-back: %s row(s) of symphonics_sync.intervention_status written in the app's database", written)
    return {"written": written}
