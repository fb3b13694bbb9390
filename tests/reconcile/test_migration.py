"""Migration 0005's analyst role (every revision's round trip: ``tests/db/test_migrations.py``)."""

from __future__ import annotations

from collections.abc import Callable

import psycopg

from include.symphonics.db import migrate


def test_the_analyst_role_is_a_nologin_group(make_scratch_database: Callable[[], str]) -> None:
    url = make_scratch_database()
    migrate.upgrade(url)
    with psycopg.connect(url) as conn:
        role = conn.execute(
            "SELECT rolcanlogin, rolpassword IS NULL FROM pg_authid WHERE rolname = 'symphonics_analyst'"
        ).fetchone()
    assert role == (False, True)  # NOLOGIN, no password


def test_a_second_database_shares_the_role(make_scratch_database: Callable[[], str]) -> None:
    first, second = make_scratch_database(), make_scratch_database()
    migrate.upgrade(first)
    migrate.upgrade(second)
    with psycopg.connect(second) as conn:
        granted = conn.execute(
            "SELECT has_table_privilege('symphonics_analyst', 'analytics.rejections', 'SELECT')"
        ).fetchone()
    assert granted == (True,)
