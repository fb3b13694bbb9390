"""Migrations 0017 (the erasure's index) and 0020 (the retention functions) on a database holding data: the
upgrade keeps every row and adds the index, the functions and their indexes; the downgrade takes them back and
keeps every row again."""

from __future__ import annotations

import psycopg
import pytest

from include.symphonics.db import migrate

pytestmark = pytest.mark.integration

_COUNTED = (
    "symphonics.webhook_events",
    "symphonics.dry_run_results",
    "symphonics.api_calls",
    "symphonics.ledger_history",
    "symphonics.interventions_ledger",
)


def _counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in _COUNTED}  # type: ignore[index]  # noqa: S608 (constants)


def _objects(url: str) -> tuple[bool, int]:
    with psycopg.connect(url) as conn:
        table = conn.execute("SELECT to_regclass('symphonics.subject_keys') IS NOT NULL").fetchone()
        functions = conn.execute(
            "SELECT count(*) FROM pg_proc WHERE pronamespace = 'symphonics'::regnamespace AND proname LIKE 'purge\\_%%'"
        ).fetchone()
    return bool(table and table[0]), int(functions[0]) if functions else 0


def test_the_index_and_the_retention_functions_come_and_go_keeping_the_data(scratch_db: str) -> None:
    migrate.upgrade(scratch_db, "0013")
    with psycopg.connect(scratch_db) as conn:
        conn.execute(
            "INSERT INTO symphonics.interventions_ledger (external_id, app_intervention_id, app_status, "
            " app_updated_at, source, source_fingerprint, state) "
            "SELECT 'int_' || lpad(g::text, 8, '0'), g, 'completed', now(), '{}'::jsonb, md5(g::text), 'pending' "
            "  FROM generate_series(1, 50) AS g"
        )
        conn.execute(
            "INSERT INTO symphonics.webhook_events (received_at, event_type, event_at, intervention_id, external_id, "
            " raw_body, dedup_key, signature_secret_used) "
            "SELECT now() - g * interval '1 day', 'x.unknown', now(), 'sym_' || g, 'int_' || lpad(g::text, 8, '0'), "
            "       '{}', sha256(g::text::bytea), 'current' FROM generate_series(1, 50) AS g"
        )
        conn.execute(
            "INSERT INTO symphonics.dry_run_results (run_id, external_id, action, state) "
            "SELECT 'dry', 'int_' || lpad(g::text, 8, '0'), 'create', 'ready' FROM generate_series(1, 50) AS g"
        )
        conn.execute(
            "INSERT INTO symphonics.api_calls (called_at, client_id, priority_class, operation, method, path, "
            " latency_ms, attempt) SELECT now(), 'c', 'publish', 'create', 'POST', '/crm/interventions', 1, 1 "
            "  FROM generate_series(1, 50)"
        )
    before = _counts(scratch_db)
    assert before["symphonics.ledger_history"] == 50  # the ledger's trigger recorded each insert
    assert _objects(scratch_db) == (False, 0)

    migrate.upgrade(scratch_db)
    assert _counts(scratch_db) == before
    assert _objects(scratch_db) == (True, 5)

    migrate.downgrade(scratch_db, "0013")
    assert _counts(scratch_db) == before
    assert _objects(scratch_db) == (False, 0)
