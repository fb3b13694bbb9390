"""Migration 0015 on a database holding alerts: they stay plain alerts (not episodes); one open episode per kind;
one alert per DAG, run id and kind (two DAGs' runs may share a run id); the dashboard's role may read the table; and
the downgrade keeps every alert 0005's index can hold.
"""

from __future__ import annotations

import psycopg
import pytest

from include.symphonics.db import migrate

pytestmark = pytest.mark.integration

_INSERT = (
    "INSERT INTO symphonics.alerts (kind, severity, message, dag_id, run_id) "
    "VALUES (%s, 'critical', 'm', %s, %s) ON CONFLICT DO NOTHING RETURNING id"
)


def _alerts(conn: psycopg.Connection) -> list[tuple[str, str | None, str | None]]:
    return [tuple(row) for row in conn.execute("SELECT kind, dag_id, run_id FROM symphonics.alerts ORDER BY id")]


def test_0015_adds_episodes_and_one_alert_per_dag_run_and_kind(scratch_db: str) -> None:
    migrate.upgrade(scratch_db, "0013")
    with psycopg.connect(scratch_db) as conn:
        assert conn.execute(_INSERT, ("failed_run", "symphonics_publish", "scheduled__1")).fetchone()
        # At 0013, the same run id in another DAG is taken for the same run: its alert is lost.
        assert conn.execute(_INSERT, ("failed_run", "symphonics_reconcile", "scheduled__1")).fetchone() is None
        conn.commit()

    migrate.upgrade(scratch_db, "0015")
    with psycopg.connect(scratch_db) as conn:
        row = conn.execute("SELECT episodic, resolved_at, resolve_notified_via FROM symphonics.alerts").fetchone()
        assert row == (False, None, [])
        assert conn.execute(_INSERT, ("failed_run", "symphonics_reconcile", "scheduled__1")).fetchone()
        assert conn.execute(_INSERT, ("failed_run", "symphonics_reconcile", "scheduled__1")).fetchone() is None
        episode = (
            "INSERT INTO symphonics.alerts (kind, severity, message, episodic) VALUES ('partner_unavailable', "
            "'critical', 'down', true) ON CONFLICT (kind) WHERE episodic AND resolved_at IS NULL DO NOTHING "
            "RETURNING id"
        )
        assert conn.execute(episode).fetchone()
        assert conn.execute(episode).fetchone() is None  # one open episode per kind
        conn.execute("UPDATE symphonics.alerts SET resolved_at = now() WHERE episodic")
        assert conn.execute(episode).fetchone()  # closed: the next one opens
        conn.commit()
        with pytest.raises(psycopg.errors.CheckViolation, match="alerts_resolved_check"):
            conn.execute("UPDATE symphonics.alerts SET resolved_at = now() WHERE NOT episodic")
        conn.rollback()
        grant = conn.execute("SELECT has_table_privilege('symphonics_dashboard', 'symphonics.alerts', 'SELECT')")
        assert grant.fetchone() == (True,)
        conn.execute(
            "INSERT INTO symphonics.watchdog_marks (check_name, first_evaluated_at, last_evaluated_at) "
            "VALUES ('publish_stalled', now(), now())"
        )
        conn.commit()

    migrate.downgrade(scratch_db, "0013")
    with psycopg.connect(scratch_db) as conn:
        # The reconcile's alert under the publish run's id cannot stay under 0005's index: the first one does; the
        # episodes stay as plain alerts.
        assert _alerts(conn) == [
            ("failed_run", "symphonics_publish", "scheduled__1"),
            ("partner_unavailable", None, None),
            ("partner_unavailable", None, None),
        ]
        assert conn.execute("SELECT to_regclass('symphonics.watchdog_marks')").fetchone() == (None,)
        grant = conn.execute("SELECT has_table_privilege('symphonics_dashboard', 'symphonics.alerts', 'SELECT')")
        assert grant.fetchone() == (False,)
    migrate.upgrade(scratch_db, "head")
