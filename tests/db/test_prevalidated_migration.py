"""Migration 0013: a row waiting for the partner's validation moves from ``pending`` (told apart by
``prevalidated_at``) to its own state ``prevalidated``, and back on the downgrade; the constraints and partial
indexes that list the states follow, and the downgrade restores them exactly.
"""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from include.symphonics.db import migrate

pytestmark = pytest.mark.integration

STATE_CHANGED_AT = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
PREVALIDATED_AT = datetime(2026, 11, 20, 8, 31, tzinfo=UTC)
INDEXES = (
    "interventions_ledger_work_idx",
    "interventions_ledger_to_minimise_idx",
    "interventions_ledger_retention_idx",
)
CONSTRAINTS = ("interventions_ledger_state_check", "interventions_ledger_reason_check")

_INSERT = (
    "INSERT INTO symphonics.interventions_ledger (external_id, app_intervention_id, app_status, app_updated_at, "
    "source, source_fingerprint, state, state_reason, prevalidated_at, state_changed_at) "
    "VALUES (%s, 1, 'completed', now(), '{}', 'f', %s, %s, %s, %s)"
)
# external id: (state, reason, prevalidated_at) at 0012.
ROWS = {
    "int_new": ("pending", None, None),  # not checked by the local rules yet
    "int_passed": ("pending", None, PREVALIDATED_AT),  # passed them: waits for the partner
    "int_ready": ("ready", None, PREVALIDATED_AT),
    "int_invalid": ("invalid", "missing_document", PREVALIDATED_AT),
}


def _definitions(conn: psycopg.Connection) -> dict[str, str]:
    indexes = conn.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'symphonics' AND indexname = ANY(%s)",
        (list(INDEXES),),
    ).fetchall()
    constraints = conn.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = ANY(%s)", (list(CONSTRAINTS),)
    ).fetchall()
    found = {str(name): str(definition) for name, definition in [*indexes, *constraints]}
    assert set(found) == {*INDEXES, *CONSTRAINTS}
    return found


def _rows(conn: psycopg.Connection) -> dict[str, tuple[str, str | None, datetime | None, datetime]]:
    rows = conn.execute(
        "SELECT external_id, state, state_reason, prevalidated_at, state_changed_at "
        "FROM symphonics.interventions_ledger"
    ).fetchall()
    return {row[0]: (row[1], row[2], row[3], row[4]) for row in rows}


def _history_count(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT count(*) FROM symphonics.ledger_history").fetchone()
    assert row is not None
    return int(row[0])


def test_0013_moves_the_waiting_rows_to_their_own_state_and_back(scratch_db: str) -> None:
    migrate.upgrade(scratch_db, "0012")
    with psycopg.connect(scratch_db) as conn:
        for external_id, (state, reason, prevalidated_at) in ROWS.items():
            conn.execute(_INSERT, (external_id, state, reason, prevalidated_at, STATE_CHANGED_AT))
        conn.commit()
        at_0012 = _definitions(conn)
        history = _history_count(conn)
        with pytest.raises(psycopg.errors.CheckViolation, match="interventions_ledger_state_check"):
            # (with a reason: only the states' CHECK can refuse it)
            conn.execute(_INSERT, ("int_early", "prevalidated", "missing_pdl", PREVALIDATED_AT, STATE_CHANGED_AT))
        conn.rollback()

    migrate.upgrade(scratch_db, "0013")
    with psycopg.connect(scratch_db) as conn:
        assert _rows(conn) == {
            "int_new": ("pending", None, None, STATE_CHANGED_AT),
            "int_passed": ("prevalidated", None, PREVALIDATED_AT, STATE_CHANGED_AT),  # a rename: its time is kept
            "int_ready": ("ready", None, PREVALIDATED_AT, STATE_CHANGED_AT),
            "int_invalid": ("invalid", "missing_document", PREVALIDATED_AT, STATE_CHANGED_AT),
        }
        assert _history_count(conn) == history  # no step that no run made
        at_0013 = _definitions(conn)
        assert all("'prevalidated'" in at_0013[name] for name in (*INDEXES, "interventions_ledger_state_check"))
        assert "'prevalidated'" in at_0013["interventions_ledger_reason_check"]
        # The state needs no reason, as pending did; an unknown state is still refused.
        conn.execute(_INSERT, ("int_later", "prevalidated", None, PREVALIDATED_AT, STATE_CHANGED_AT))
        conn.execute("DELETE FROM symphonics.interventions_ledger WHERE external_id = 'int_later'")
        with pytest.raises(psycopg.errors.CheckViolation, match="interventions_ledger_state_check"):
            conn.execute(_INSERT, ("int_bogus", "validated", "missing_pdl", None, STATE_CHANGED_AT))
        conn.rollback()
        # The history trigger is back on after the move.
        conn.execute("UPDATE symphonics.interventions_ledger SET state = 'ready' WHERE external_id = 'int_passed'")
        assert _history_count(conn) == history + 1
        conn.rollback()

    migrate.downgrade(scratch_db, "0012")
    with psycopg.connect(scratch_db) as conn:
        assert _rows(conn) == {
            external_id: (state, reason, prevalidated_at, STATE_CHANGED_AT)
            for external_id, (state, reason, prevalidated_at) in ROWS.items()
        }
        assert _history_count(conn) == history
        assert _definitions(conn) == at_0012
    migrate.upgrade(scratch_db, "head")
