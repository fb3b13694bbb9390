"""Migration 0002: the client's tables appear with head and go away with a downgrade to 0001."""

from __future__ import annotations

import psycopg
import pytest

from include.symphonics.db import migrate

pytestmark = pytest.mark.integration

CLIENT_TABLES = {"api_calls", "api_tokens", "quota_class_usage", "quota_windows"}


def _tables(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'symphonics'")
        return {row[0] for row in rows}


def test_upgrade_downgrade_upgrade(scratch_db: str) -> None:
    migrate.upgrade(scratch_db, "0002")
    assert _tables(scratch_db) >= CLIENT_TABLES
    migrate.downgrade(scratch_db, "0001")
    assert not _tables(scratch_db) & CLIENT_TABLES
    migrate.upgrade(scratch_db, "0002")
    assert _tables(scratch_db) >= CLIENT_TABLES
