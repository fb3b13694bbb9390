"""Migration 0011: the ledger's history goes up and down cleanly; the trigger writes it whoever changes the ledger,
with the run the transaction names (else the row's last run); the pipeline's role can neither change nor remove it.
"""

from __future__ import annotations

import psycopg
import pytest

from include.symphonics.db import migrate, roles
from include.symphonics.db.history import set_run
from tests.fixtures.roles import as_login, login_in
from tests.fixtures.stack import TestStack

pytestmark = pytest.mark.integration

_INSERT = (
    "INSERT INTO symphonics.interventions_ledger (external_id, app_intervention_id, app_status, app_updated_at, "
    "source, source_fingerprint, last_run_id) VALUES ('int_1', 1, 'completed', now(), '{}', 'f', 'run-extract')"
)


def _steps(conn: psycopg.Connection) -> list[tuple[str | None, str, str | None, str | None]]:
    rows = conn.execute(
        "SELECT from_state, to_state, reason, run_id FROM symphonics.ledger_history ORDER BY id"
    ).fetchall()
    return [(row[0], row[1], row[2], row[3]) for row in rows]


def test_0011_upgrades_and_downgrades(scratch_db: str) -> None:
    migrate.upgrade(scratch_db, "0011")
    migrate.downgrade(scratch_db, "0010")
    with psycopg.connect(scratch_db) as conn:
        tables = {row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'symphonics'")}
        triggers = {row[0] for row in conn.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")}
    assert "ledger_history" not in tables
    assert not {name for name in triggers if name.startswith("interventions_ledger_history")}
    migrate.upgrade(scratch_db, "0011")


def test_the_trigger_records_each_change_with_its_run(scratch_db: str, stack: TestStack) -> None:
    migrate.upgrade(scratch_db, "0011")
    with login_in(stack.server, roles.PIPELINE_ROLE) as (login, password):
        pipeline = as_login(scratch_db, login, password)
        with psycopg.connect(pipeline) as conn:
            conn.execute(_INSERT)
            conn.commit()
            # Not a change of state: nothing recorded.
            conn.execute("UPDATE symphonics.interventions_ledger SET updated_at = now(), claimed_at = now()")
            conn.execute("UPDATE symphonics.interventions_ledger SET state = 'invalid', state_reason = 'invalid_email'")
            conn.commit()
            set_run(conn, "run-reconcile")
            conn.execute("UPDATE symphonics.interventions_ledger SET state = 'pending', state_reason = NULL")
            conn.commit()
            # The setting was the transaction's only: the next change is the row's last run's again.
            conn.execute("UPDATE symphonics.interventions_ledger SET state = 'ready'")
            conn.commit()
            assert _steps(conn) == [
                (None, "pending", None, "run-extract"),
                ("pending", "invalid", "invalid_email", "run-extract"),
                ("invalid", "pending", None, "run-reconcile"),
                ("pending", "ready", None, "run-extract"),
            ]
            for statement in (
                "INSERT INTO symphonics.ledger_history (ledger_id, external_id, to_state, attempts) "
                "VALUES (1, 'x', 'ready', 0)",
                "UPDATE symphonics.ledger_history SET to_state = 'published'",
                "DELETE FROM symphonics.ledger_history",
                "TRUNCATE symphonics.ledger_history",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(statement)
                conn.rollback()
    with psycopg.connect(scratch_db) as conn, pytest.raises(psycopg.errors.RaiseException):
        conn.execute("UPDATE symphonics.ledger_history SET to_state = 'published'")
