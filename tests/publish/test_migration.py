"""Migration 0003's CHECKs hold the ledger's rules (its round trip: tests/db/test_migrations.py)."""

from __future__ import annotations

import psycopg
import pytest


def test_a_state_needs_its_reason_and_published_needs_an_id(sync_dsn: str) -> None:
    insert = (
        "INSERT INTO symphonics.interventions_ledger (external_id, app_intervention_id, app_status, app_updated_at, "
        "source, source_fingerprint, state, state_reason, symphonics_id) "
        "VALUES ('int_x', 1, 'completed', now(), '{}', 'f', %s, %s, %s)"
    )
    for state, reason, symphonics_id in (("invalid", None, None), ("published", None, None), ("bogus", "x", None)):
        with psycopg.connect(sync_dsn) as conn, pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(insert, (state, reason, symphonics_id))
