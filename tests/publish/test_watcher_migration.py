"""The watcher's position never moves backwards (migration 0010's round trip: tests/db/test_migrations.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from include.symphonics.db import migrate
from include.symphonics.publish.sqlfiles import query


def _write(conn: psycopg.Connection, position_at: datetime, position_id: int) -> None:
    conn.execute(
        query("watcher_state_write"),
        {
            "watcher": "w",
            "position_at": position_at,
            "position_id": position_id,
            "probes": 1,
            "probe_ms_total": 1.0,
            "last_probe_at": None,
            "last_probe_ms": None,
            "last_probe_rows": None,
            "signals": 0,
            "last_signal_at": None,
            "last_signal_rows": None,
            "errors": 0,
            "last_error_at": None,
            "last_error": None,
        },
    )


def test_the_recorded_position_only_moves_forward(scratch_db: str) -> None:
    migrate.upgrade(scratch_db, "0010")
    t0 = datetime(2026, 11, 28, tzinfo=UTC)
    with psycopg.connect(scratch_db) as conn:
        _write(conn, t0, 5)
        _write(conn, t0 - timedelta(seconds=1), 9)  # an older writer (a restarted triggerer's late write)
        row = conn.execute("SELECT position_at, position_id FROM symphonics.completion_watchers").fetchone()
        assert row == (t0, 5)
        _write(conn, t0, 6)
        row = conn.execute("SELECT position_at, position_id FROM symphonics.completion_watchers").fetchone()
        assert row == (t0, 6)
