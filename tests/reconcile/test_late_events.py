"""Time comes from our clock: a validly signed event dated in 2099 (a partner clock running ahead, or a leaked
secret) is stored and flagged, but the current status is left to the poll it queued, which sets the partner's
real status; a status a late event set before migration 0008 is replaced by the next poll whatever its date."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from include.symphonics.reconcile import steps
from tests.publish.conftest import PublishWorld
from tests.reconcile.conftest import WebhookFeed


def _rows(dsn: str, sql: str, *params: Any) -> list[dict[str, Any]]:
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]


def _state(dsn: str) -> dict[str, dict[str, Any]]:
    return {row["symphonics_id"]: row for row in _rows(dsn, "SELECT * FROM symphonics.intervention_sync_state")}


def test_an_event_dated_2099_leaves_the_status_to_the_poll(
    reconcile_world: PublishWorld, publish_dag: Any, webhook_feed: WebhookFeed, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = reconcile_world
    monkeypatch.setenv("SYMPHONICS_RECONCILE_POLL_AFTER_HOURS", "48")  # only the queued polls are due
    assert publish_dag.test().state == "success"
    world.sandbox.tick(steps=2)
    ledger = {row["symphonics_id"]: row for row in world.rows().values() if row["state"] == "published"}
    target, legacy = sorted(ledger)[:2]
    partner = {item["id"]: item["status"] for item in world.sandbox.interventions()}
    forged_status = "approved" if partner[target] == "rejected" else "rejected"
    # Every other event arrives on time; those of the two interventions under test are lost.
    webhook_feed.deliver_all(world.sandbox.webhook_events(), skip=frozenset({target, legacy}))

    future = {
        "event": "intervention.status_update",
        "timestamp": "2099-01-01T00:00:00Z",
        "data": {
            "intervention_id": target,
            "external_id": ledger[target]["external_id"],
            "previous_status": "processing",
            "new_status": forged_status,
            "notes": "dated by a clock running ahead",
        },
    }
    assert webhook_feed.deliver(future) == 422  # refused, yet stored and flagged, its intervention queued
    [stored] = _rows(world.sync_dsn, "SELECT * FROM symphonics.webhook_events WHERE event_at > now()")
    assert stored["late"] is True
    assert stored["ordering_at"] <= datetime.now(UTC)  # capped at its receipt

    # A status a late event set before migration 0008 (dated 2099, final): the poll must replace it too.
    with psycopg.connect(world.sync_dsn) as conn:
        conn.execute(
            "INSERT INTO symphonics.intervention_sync_state (external_id, symphonics_id, partner_status,"
            " partner_status_at, partner_status_source) VALUES (%s, %s, %s, '2099-01-01T00:00:00Z', 'late_webhook')",
            (ledger[legacy]["external_id"], legacy, forged_status),
        )
        conn.execute(
            "INSERT INTO symphonics.status_poll_queue (intervention_id, external_id, reason)"
            " VALUES (%s, %s, 'late_webhook')",
            (legacy, ledger[legacy]["external_id"]),
        )

    applied = steps.run_apply_webhooks(run_id="late-2099")
    assert applied["pending"] >= 1
    after_apply = _state(world.sync_dsn)
    assert target not in after_apply or after_apply[target]["partner_status"] is None  # not decided by the event
    late_history = _rows(
        world.sync_dsn, "SELECT * FROM symphonics.status_history WHERE webhook_event_id = %s", stored["id"]
    )
    assert late_history == []
    assert _rows(world.sync_dsn, "SELECT * FROM symphonics.webhook_events WHERE id = %s", stored["id"])[0][
        "processed_at"
    ]

    polled = steps.run_poll_statuses(run_id="late-2099-poll")
    assert polled["polled"] == 2
    now = datetime.now(UTC)
    after_poll = _state(world.sync_dsn)
    for symphonics_id in (target, legacy):
        row = after_poll[symphonics_id]
        assert row["partner_status"] == partner[symphonics_id], symphonics_id
        assert row["partner_status_source"] == "poll"
        assert row["partner_status_at"] <= now
    # Nobody is listed as rejected in the future, and an intervention the partner did not reject is not listed.
    assert _rows(world.sync_dsn, "SELECT * FROM analytics.rejections WHERE rejected_at > now()") == []
    for symphonics_id in (target, legacy):
        listed = _rows(world.sync_dsn, "SELECT * FROM analytics.rejections WHERE symphonics_id = %s", symphonics_id)
        assert bool(listed) == (partner[symphonics_id] == "rejected"), symphonics_id
