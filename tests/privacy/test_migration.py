"""Migration 0009: the ledger's privacy columns, the erasure record and the redaction function appear with head, go
with a downgrade to 0005 (snapshots immutable again, for everyone)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import psycopg
import pytest

from include.symphonics.db import migrate

pytestmark = pytest.mark.integration


def _state(url: str) -> tuple[set[str], bool, bool]:
    with psycopg.connect(url) as conn:
        columns = {
            name
            for (name,) in conn.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = 'symphonics' AND table_name = 'interventions_ledger'"
            )
        }
        erasures = conn.execute("SELECT to_regclass('symphonics.privacy_erasures') IS NOT NULL").fetchone()
        function = conn.execute(
            "SELECT to_regprocedure('symphonics.redact_personal(jsonb, text[], jsonb)') IS NOT NULL"
        )
        return columns, bool(erasures and erasures[0]), bool(function.fetchone()[0])  # type: ignore[index]


def _update_snapshot(url: str, *, erasure: bool) -> None:
    with psycopg.connect(url) as conn, conn.transaction():
        if erasure:
            conn.execute("SELECT set_config('symphonics.erasure', 'on', true)")
        conn.execute("UPDATE analytics.reconciliation_snapshots SET partner_notes = NULL")


def test_redaction_and_immutable_snapshots_and_their_downgrade(make_scratch_database: Callable[[], str]) -> None:
    url = make_scratch_database()
    # The last revision with the snapshot table (0022 made it a view over insert-only change rows).
    migrate.upgrade(url, "0021")
    privacy_columns = {"minimised_at", "personal_data_removed_at", "erased_at"}
    columns, erasures, function = _state(url)
    assert columns >= privacy_columns
    assert erasures
    assert function
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO analytics.reconciliation_snapshots (snapshot_date, external_id, as_of, category, ledger_state,"
            " partner_notes) VALUES (%s, 'int_1', %s, 'approved', 'published', 'notes')",
            (date(2026, 11, 1), datetime(2026, 11, 1, tzinfo=UTC)),
        )
        redacted = conn.execute(
            'SELECT symphonics.redact_personal(%s::jsonb, %s, \'{"removed": "erasure"}\'::jsonb)',
            (
                '{"customer": {"email": "a@b.fr", "first_name": null}, "photos": [1], "documents": '
                '[{"type": "invoice", "name": "Facture A B", "url": "u"}], "status": "completed"}',
                ["customer.email", "customer.first_name", "photos"],
            ),
        ).fetchone()
    assert redacted is not None
    assert redacted[0] == {
        "customer": {"email": {"removed": "erasure"}, "first_name": None},
        "photos": {"removed": "erasure"},
        "documents": [{"type": "invoice", "url": "u"}],
        "status": "completed",
    }
    with pytest.raises(psycopg.errors.IntegrityConstraintViolation):
        _update_snapshot(url, erasure=False)
    _update_snapshot(url, erasure=True)

    migrate.downgrade(url, "0005")  # what it removes: tests/db/test_migrations.py
    with pytest.raises(psycopg.errors.IntegrityConstraintViolation):
        _update_snapshot(url, erasure=True)  # immutable again, for everyone
