"""The webhook tables' rules and migration 0008's data step.

Every revision's round trip: ``tests/db/test_migrations.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import psycopg

from include.symphonics.db import migrate


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


def test_0008_counts_the_existing_rejections_and_queues_polls_for_statuses_dated_ahead(
    make_scratch_database: Callable[[], str],
) -> None:
    url = make_scratch_database()
    migrate.upgrade(url, "0005")
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO symphonics.webhook_rejections (received_at, request_id, reason, status_code, remote_addr,"
            " body_size) SELECT '2026-11-01T10:00:00Z'::timestamptz + g * interval '1 second', 'r' || g,"
            " 'bad_signature', 401, '192.0.2.1', 10 FROM generate_series(1, 30) AS g"
        )
        conn.execute(
            "INSERT INTO symphonics.intervention_sync_state (external_id, symphonics_id, partner_status,"
            " partner_status_at) VALUES ('ext-future', 'sym_future', 'rejected', '2099-01-01T00:00:00Z'),"
            " ('ext-fine', 'sym_fine', 'approved', '2026-11-01T00:00:00Z')"
        )
        conn.execute(
            "INSERT INTO symphonics.webhook_events (received_at, event_type, event_at, intervention_id, raw_body,"
            " dedup_key, signature_secret_used) VALUES ('2026-11-01T10:00:00Z', 'x', '2099-01-01T00:00:00Z',"
            " 'sym_future', '{}', sha256('k'::bytea), 'current')"
        )
    migrate.upgrade(url, "0008")
    with psycopg.connect(url) as conn:
        counts = conn.execute(
            "SELECT minute, reason, remote_addr, requests, body_bytes FROM symphonics.webhook_refusals"
        ).fetchall()
        states = dict(
            conn.execute("SELECT symphonics_id, partner_status_source FROM symphonics.intervention_sync_state")
        )
        queued = conn.execute("SELECT intervention_id, reason FROM symphonics.status_poll_queue").fetchall()
        ordering = conn.execute("SELECT ordering_at, received_at FROM symphonics.webhook_events").fetchone()
        samples = conn.execute("SELECT count(*) FROM symphonics.webhook_rejections").fetchone()
    [(minute, reason, source, requests, body_bytes)] = counts
    assert (minute.isoformat(), reason, source, requests, body_bytes) == (
        "2026-11-01T10:00:00+00:00",
        "bad_signature",
        "192.0.2.1",
        30,
        300,
    )
    assert samples == (30,)  # the rows stay, as samples
    assert states == {"sym_future": "late_webhook", "sym_fine": None}
    assert queued == [("sym_future", "late_webhook")]
    assert ordering is not None
    assert ordering[0] == ordering[1]  # capped at the receipt
    migrate.downgrade(url, "0005")
    migrate.upgrade(url, "0008")
