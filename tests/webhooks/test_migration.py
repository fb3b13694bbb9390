"""Migration 0004: the webhook tables, their named constraints, and a downgrade that removes them."""

from __future__ import annotations

from collections.abc import Callable

import psycopg

from include.symphonics.db import migrate

TABLES = ("webhook_events", "webhook_rejections", "status_poll_queue")


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        found = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'symphonics'"
        ).fetchall()
    return {row[0] for row in found} & set(TABLES)


def test_upgrade_downgrade_upgrade(make_scratch_database: Callable[[], str]) -> None:
    url = make_scratch_database()
    migrate.upgrade(url, "0004")
    assert _tables(url) == set(TABLES)
    with psycopg.connect(url) as conn:
        constraints = {
            row[0]
            for row in conn.execute(
                "SELECT conname FROM pg_constraint WHERE conrelid = 'symphonics.webhook_events'::regclass"
            )
        }
    assert {"webhook_events_pkey", "webhook_events_dedup_key_key"} <= constraints
    migrate.downgrade(url, "0003")
    assert _tables(url) == set()
    migrate.upgrade(url, "0004")
    assert _tables(url) == set(TABLES)


def test_one_pending_poll_per_intervention_but_a_new_one_after_done(webhook_db: str) -> None:
    insert = "INSERT INTO symphonics.status_poll_queue (intervention_id, reason) VALUES ('sym_1', 'late_webhook')"
    with psycopg.connect(webhook_db) as conn:
        conn.execute(insert)
        try:
            with conn.transaction():
                conn.execute(insert)
            raise AssertionError("a second pending poll was accepted")
        except psycopg.errors.UniqueViolation:
            pass
        conn.execute("UPDATE symphonics.status_poll_queue SET done_at = now()")
        conn.execute(insert)
