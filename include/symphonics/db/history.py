"""The run a transaction works for, as the ledger's history trigger reads it (migration 0011).

The trigger on ``symphonics.interventions_ledger`` records each state change with the run that made it: the
transaction-local setting ``symphonics.run_id`` when set, else the row's ``last_run_id`` (which every publish
statement sets). A step that changes ledger states without setting ``last_run_id`` (the reconciliation completing
a 409) names its run with :func:`set_run` inside its transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from include.symphonics.sql import SqlFolder

if TYPE_CHECKING:
    import psycopg

#: The setting the trigger reads (``sql/db/set_run.sql`` sets it).
RUN_SETTING = "symphonics.run_id"


def set_run(conn: psycopg.Connection, run_id: str | None) -> None:
    """Name the run of the current transaction for the history trigger (until it commits or rolls back).

    :param conn: a connection inside a transaction.
    :param run_id: the Airflow run id; ``None`` clears it.
    """
    conn.execute(SqlFolder("db").query("set_run"), {"run_id": run_id or ""})
