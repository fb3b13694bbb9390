"""Migration 0003 goes up and down cleanly, and its CHECKs hold the ledger's rules."""

from __future__ import annotations

import psycopg
import pytest

from include.symphonics.db import migrate


def test_0003_upgrades_and_downgrades(scratch_db: str) -> None:
    migrate.upgrade(scratch_db, "0003")
    migrate.downgrade(scratch_db, "0002")
    migrate.upgrade(scratch_db, "0003")
    with psycopg.connect(scratch_db) as conn:
        tables = {
            row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'symphonics'").fetchall()
        }
    assert {
        "interventions_ledger",
        "publish_watermarks",
        "pdl_validations",
        "pdl_lookups",
        "installer_validations",
        "publish_runs",
    } <= tables


def test_a_state_needs_its_reason_and_published_needs_an_id(sync_dsn: str) -> None:
    insert = (
        "INSERT INTO symphonics.interventions_ledger (external_id, app_intervention_id, app_status, app_updated_at, "
        "source, source_fingerprint, state, state_reason, symphonics_id) "
        "VALUES ('int_x', 1, 'completed', now(), '{}', 'f', %s, %s, %s)"
    )
    for state, reason, symphonics_id in (("invalid", None, None), ("published", None, None), ("bogus", "x", None)):
        with psycopg.connect(sync_dsn) as conn, pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(insert, (state, reason, symphonics_id))
