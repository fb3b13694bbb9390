"""Migration 0005: tables, views and role appear with head, go with a downgrade to 0004, and come back."""

from __future__ import annotations

from collections.abc import Callable

import psycopg

from include.symphonics.db import migrate

TABLES = {
    "symphonics.status_history",
    "symphonics.intervention_sync_state",
    "symphonics.app_interventions_copy",
    "symphonics.alerts",
    "analytics.reconciliation_snapshots",
    "analytics.snapshot_builds",
}
VIEWS = {
    "analytics.interventions_current",
    "analytics.rejections",
    "analytics.time_to_approval",
    "analytics.quota_daily",
}


def _objects(url: str) -> tuple[set[str], set[str]]:
    with psycopg.connect(url) as conn:
        tables = {
            f"{schema}.{name}"
            for schema, name in conn.execute(
                "SELECT schemaname, tablename FROM pg_tables WHERE schemaname IN ('symphonics', 'analytics')"
            )
        }
        views = {
            f"{schema}.{name}"
            for schema, name in conn.execute("SELECT schemaname, viewname FROM pg_views WHERE schemaname = 'analytics'")
        }
    return tables, views


def test_upgrade_downgrade_upgrade(make_scratch_database: Callable[[], str]) -> None:
    url = make_scratch_database()
    migrate.upgrade(url)
    tables, views = _objects(url)
    assert tables >= TABLES
    assert views == VIEWS
    with psycopg.connect(url) as conn:
        role = conn.execute(
            "SELECT rolcanlogin, rolpassword IS NULL FROM pg_authid WHERE rolname = 'symphonics_analyst'"
        ).fetchone()
        unnamed = conn.execute(
            "SELECT count(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
            "WHERE n.nspname = 'analytics' AND c.conname ~ '^[0-9]'"
        ).fetchone()
    assert role == (False, True)  # NOLOGIN, no password
    assert unnamed == (0,)
    migrate.downgrade(url, "0004")
    tables, views = _objects(url)
    assert not tables & TABLES
    assert not views
    migrate.upgrade(url)  # the role exists now: created only if missing, so this succeeds
    assert _objects(url)[0] >= TABLES


def test_a_second_database_shares_the_role(make_scratch_database: Callable[[], str]) -> None:
    first, second = make_scratch_database(), make_scratch_database()
    migrate.upgrade(first)
    migrate.upgrade(second)
    with psycopg.connect(second) as conn:
        granted = conn.execute(
            "SELECT has_table_privilege('symphonics_analyst', 'analytics.rejections', 'SELECT')"
        ).fetchone()
    assert granted == (True,)
