"""Migration 0019: the quota row keeps the partner's stated limits (positive, or NULL), the dashboard's role reads
that row's statements (not its send times), and ``analytics.quota_daily`` counts connection tests apart; the
downgrade gives back 0013's table and view, rows kept."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from include.symphonics.db import migrate

pytestmark = pytest.mark.integration

CALLED_AT = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
_CALL = (
    "INSERT INTO symphonics.api_calls (called_at, client_id, priority_class, operation, method, path, status, "
    "latency_ms, attempt, token_request) VALUES (%s, %s, 'ops', %s, 'POST', '/auth/token', %s, 10, 1, true)"
)


def _daily(conn: psycopg.Connection) -> list[tuple[object, ...]]:
    return conn.execute("SELECT * FROM analytics.quota_daily ORDER BY priority_class").fetchall()


def test_0019_keeps_the_partners_limits_and_counts_checks_and_back(scratch_db: str) -> None:
    migrate.upgrade(scratch_db, "0013")
    with psycopg.connect(scratch_db) as conn:
        conn.execute("INSERT INTO symphonics.quota_windows (client_id, day_used) VALUES ('client-a', 7)")
        conn.execute(_CALL, (CALLED_AT, "client-a", "obtain_token", 200))
        conn.execute(_CALL, (CALLED_AT, "typo-client", "check_connection", 401))
        conn.commit()
        at_0013 = _daily(conn)

    migrate.upgrade(scratch_db, "0019")
    with psycopg.connect(scratch_db) as conn:
        row = conn.execute(
            "SELECT day_used, partner_per_minute, partner_per_day FROM symphonics.quota_windows"
        ).fetchone()
        assert row == (7, None, None)  # nothing adopted until the partner states a lower limit
        conn.execute("UPDATE symphonics.quota_windows SET partner_per_minute = 40, partner_per_day = 1000")
        with pytest.raises(psycopg.errors.CheckViolation, match="quota_windows_partner_per_minute_check"):
            conn.execute("UPDATE symphonics.quota_windows SET partner_per_minute = 0")
        conn.rollback()
        daily = conn.execute("SELECT priority_class, calls, check_calls FROM analytics.quota_daily").fetchall()
        assert daily == [("ops", 2, 1)]  # every client id: the typo'd test is counted, as a check
        assert [tuple(r[:-1]) for r in _daily(conn)] == at_0013
        readable = conn.execute(
            "SELECT column_name FROM information_schema.column_privileges WHERE grantee = 'symphonics_dashboard' "
            "AND table_name = 'quota_windows' ORDER BY column_name"
        ).fetchall()
        assert [name for (name,) in readable] == [
            "client_id",
            "partner_per_day",
            "partner_per_minute",
            "server_remaining",
            "server_reset_at",
        ]

    migrate.downgrade(scratch_db, "0013")
    with psycopg.connect(scratch_db) as conn:
        assert _daily(conn) == at_0013
        columns = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'quota_windows' "
            "AND column_name LIKE 'partner_%'"
        ).fetchall()
        assert columns == []
        assert conn.execute("SELECT day_used FROM symphonics.quota_windows").fetchone() == (7,)
    migrate.upgrade(scratch_db, "head")
