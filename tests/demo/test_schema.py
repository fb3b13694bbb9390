"""The app's reference schema: idempotent, reset-able, and its updated_at triggers keep the contract."""

from __future__ import annotations

import psycopg
import pytest

from include.symphonics_demo.app_db import APP_TABLES, apply_schema


def _apply(dsn: str, *, reset: bool = False) -> None:
    with psycopg.connect(dsn) as conn, conn.transaction():
        apply_schema(conn, reset=reset)


def _insert_intervention(conn: psycopg.Connection) -> None:
    conn.execute(
        "INSERT INTO companies (id, name, email_domain, symphonics_company_id) "
        "VALUES (1, 'Test Énergies', 'test-energies.fr', 'cmp_12345678')"
    )
    conn.execute(
        "INSERT INTO installers (id, company_id, first_name, last_name, email) "
        "VALUES (1, 1, 'Jean', 'Dupont', 'jean.dupont@test-energies.fr')"
    )
    conn.execute("INSERT INTO customers (id, first_name, last_name, phone) VALUES (1, 'Thomas', 'Martin', '0612')")
    conn.execute(
        "INSERT INTO interventions "
        "(id, external_id, status, completed_at, updated_at, customer_id, installer_id) "
        "VALUES (1, 'int_00000001', 'completed', '2025-03-25 11:30+00', '2025-03-25 11:31+00', 1, 1)"
    )


def _updated_at(conn: psycopg.Connection) -> object:
    row = conn.execute("SELECT updated_at FROM interventions WHERE id = 1").fetchone()
    assert row is not None
    return row[0]


def test_schema_applies_twice(app_dsn: str) -> None:
    _apply(app_dsn)
    _apply(app_dsn)
    with psycopg.connect(app_dsn) as conn:
        tables = {row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        indexes = {row[0] for row in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")}
    assert set(APP_TABLES) <= tables
    assert "interventions_updated_at_id_idx" in indexes


def test_reapplying_keeps_data_and_reset_drops_it(app_dsn: str) -> None:
    _apply(app_dsn)
    with psycopg.connect(app_dsn) as conn:
        _insert_intervention(conn)
    _apply(app_dsn)
    with psycopg.connect(app_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM interventions").fetchone() == (1,)
    _apply(app_dsn, reset=True)
    with psycopg.connect(app_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM interventions").fetchone() == (0,)


@pytest.mark.parametrize(
    "child_write",
    [
        "INSERT INTO intervention_documents (intervention_id, type, name, url) "
        "VALUES (1, 'additional_proof', 'Preuve', 'https://example.test/p.pdf')",
        "INSERT INTO intervention_photos (intervention_id, type, url, latitude, longitude) "
        "VALUES (1, 'after', 'https://example.test/a.jpg', 48.85, 2.35)",
        "INSERT INTO intervention_services (intervention_id, code, name) VALUES (1, 'BAR-TH-171', 'PAC')",
    ],
)
def test_child_write_moves_parent_updated_at_forward(app_dsn: str, child_write: str) -> None:
    _apply(app_dsn)
    with psycopg.connect(app_dsn) as conn:
        _insert_intervention(conn)
        conn.commit()
        before = _updated_at(conn)
        conn.execute(child_write)
        conn.commit()
        after_insert = _updated_at(conn)
        conn.execute("DELETE FROM intervention_documents")
        conn.execute("DELETE FROM intervention_photos")
        conn.execute("DELETE FROM intervention_services")
        conn.commit()
        after_delete = _updated_at(conn)
    assert before < after_insert < after_delete  # type: ignore[operator]


def test_intervention_edit_moves_updated_at_forward_unless_set(app_dsn: str) -> None:
    _apply(app_dsn)
    with psycopg.connect(app_dsn) as conn:
        _insert_intervention(conn)
        conn.commit()
        before = _updated_at(conn)
        conn.execute("UPDATE interventions SET address = '3 rue Neuve' WHERE id = 1")
        conn.commit()
        edited = _updated_at(conn)
        # A writer that sets updated_at itself is trusted.
        conn.execute("UPDATE interventions SET updated_at = '2030-01-01 00:00+00' WHERE id = 1")
        explicit = _updated_at(conn)
    assert before < edited  # type: ignore[operator]
    assert str(explicit).startswith("2030-01-01")


def test_status_outside_the_contract_is_refused(app_dsn: str) -> None:
    _apply(app_dsn)
    with psycopg.connect(app_dsn) as conn:
        _insert_intervention(conn)
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("UPDATE interventions SET status = 'done' WHERE id = 1")
