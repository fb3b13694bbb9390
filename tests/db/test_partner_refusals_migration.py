"""Migration 0014: the reasons of a refused resource, the flag of a change made while a row was held, the partner's
next steps (kept, read by the dashboard's role, shown to analysts); tested with data, and its downgrade."""

from __future__ import annotations

import psycopg
import pytest
from psycopg.types.json import Jsonb

from include.symphonics.db import migrate

pytestmark = pytest.mark.integration

_INSERT = (
    "INSERT INTO symphonics.interventions_ledger (external_id, app_intervention_id, app_status, app_updated_at, "
    "source, source_fingerprint, state, state_reason) VALUES (%s, 1, 'completed', now(), '{}', 'f', %s, %s)"
)


def _columns(conn: psycopg.Connection, table: str) -> set[str]:
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema || '.' || table_name = %s", (table,)
    ).fetchall()
    return {str(row[0]) for row in rows}


def test_0014_takes_the_new_reasons_keeps_next_steps_and_goes_back(scratch_db: str) -> None:
    migrate.upgrade(scratch_db, "0013")
    with psycopg.connect(scratch_db) as conn:
        conn.execute(_INSERT, ("int_old", "dead_letter", "too_many_attempts"))
        conn.commit()
        with pytest.raises(psycopg.errors.CheckViolation, match="reason_code"):
            conn.execute(_INSERT, ("int_early", "dead_letter", "partner_forbidden"))
        conn.rollback()

    migrate.upgrade(scratch_db, "0014")
    with psycopg.connect(scratch_db) as conn:
        for external_id, state, reason in (
            ("int_forbidden", "dead_letter", "partner_forbidden"),
            ("int_gone", "dead_letter", "partner_not_found"),
            ("int_no_id", "conflict_unresolved", "created_id_unknown"),
        ):
            conn.execute(_INSERT, (external_id, state, reason))
        flags = conn.execute(
            "SELECT external_id, source_changed_while_held FROM symphonics.interventions_ledger ORDER BY external_id"
        ).fetchall()
        assert flags == [("int_forbidden", False), ("int_gone", False), ("int_no_id", False), ("int_old", False)]
        conn.execute(
            "INSERT INTO symphonics.intervention_sync_state (external_id, symphonics_id, partner_status, next_steps) "
            "VALUES ('int_old', 'sym_1', 'processing', %s)",
            (Jsonb([{"type": "verification", "status": "pending"}]),),
        )
        assert "partner_next_steps" in _columns(conn, "analytics.interventions_current")
        dashboard_may_read = conn.execute(
            "SELECT has_column_privilege('symphonics_dashboard', 'symphonics.intervention_sync_state', c, 'SELECT') "
            "FROM unnest(ARRAY['external_id', 'next_steps', 'partner_notes']) AS c"
        ).fetchall()
        assert [row[0] for row in dashboard_may_read] == [True, True, False]
        conn.execute("DELETE FROM symphonics.interventions_ledger WHERE external_id <> 'int_old'")
        conn.commit()

    migrate.downgrade(scratch_db, "0013")
    with psycopg.connect(scratch_db) as conn:
        assert "source_changed_while_held" not in _columns(conn, "symphonics.interventions_ledger")
        assert "next_steps" not in _columns(conn, "symphonics.intervention_sync_state")
        assert "partner_next_steps" not in _columns(conn, "analytics.interventions_current")
        analyst = conn.execute(
            "SELECT has_table_privilege('symphonics_analyst', 'analytics.interventions_current', 'SELECT')"
        ).fetchone()
        assert analyst == (True,)
        assert conn.execute("SELECT count(*) FROM symphonics.interventions_ledger").fetchone() == (1,)
        with pytest.raises(psycopg.errors.CheckViolation, match="reason_code"):
            conn.execute(_INSERT, ("int_late", "dead_letter", "partner_not_found"))
    migrate.upgrade(scratch_db, "head")
