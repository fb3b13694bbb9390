"""A row's history (migration 0011) through create, a crash, the 409 of its resend, the webhook that gives its id
and a poll: complete and in order; the dashboard's search finds it by each of its keys and tells its story."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from include.symphonics.dashboard import timeline
from include.symphonics.db.history import set_run
from include.symphonics.reconcile import steps as reconcile_steps
from tests.publish.conftest import PublishWorld, run_pipeline
from tests.reconcile.conftest import WebhookFeed

pytestmark = pytest.mark.integration


def _history(dsn: str, external_id: str) -> list[dict[str, Any]]:
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        return conn.execute(
            "SELECT * FROM symphonics.ledger_history WHERE external_id = %s ORDER BY id", (external_id,)
        ).fetchall()


@pytest.fixture
def story(
    reconcile_world: PublishWorld, webhook_feed: WebhookFeed, monkeypatch: pytest.MonkeyPatch
) -> tuple[PublishWorld, str, str]:
    """One intervention created, crashed before its answer was recorded, resent (409 without an id), completed by
    its webhook, then polled; returns the world, its external id and its Symphonics id."""
    world = reconcile_world
    monkeypatch.setenv("SYMPHONICS_RECONCILE_POLL_AFTER_HOURS", "0")
    world.sandbox.configure(conflict_mode="bare")
    with psycopg.connect(world.sync_dsn) as conn:
        conn.execute("TRUNCATE symphonics.ledger_history")  # the demo's ids are every test's
    run_pipeline("h-create")
    with psycopg.connect(world.sync_dsn) as conn:
        external_id, symphonics_id = conn.execute(
            "SELECT external_id, symphonics_id FROM symphonics.interventions_ledger "
            "WHERE state = 'published' ORDER BY id LIMIT 1"
        ).fetchone()  # type: ignore[misc]
        # A crash after the create arrived, before its answer was recorded.
        set_run(conn, "h-crash")
        conn.execute(
            "UPDATE symphonics.interventions_ledger SET state = 'sending', attempts = 1, symphonics_id = NULL, "
            "claim_key = 999999 WHERE external_id = %s",
            (external_id,),
        )
    run_pipeline("h-resend")
    assert world.rows()[external_id]["state"] == "conflict_unresolved"
    world.sandbox.tick(steps=1)  # created -> processing, one webhook each
    events = [e for e in world.sandbox.webhook_events() if e["intervention_id"] == symphonics_id]
    assert events
    for event in events:
        assert webhook_feed.deliver(event["payload"]) == 200
    reconcile_steps.run_apply_webhooks(run_id="h-reconcile")
    world.sandbox.tick(steps=1)  # the decision, whose webhook is lost: the poll finds it
    reconcile_steps.run_poll_statuses(run_id="h-poll")
    return world, external_id, symphonics_id


def test_the_history_of_a_row_is_complete_and_in_order(story: tuple[PublishWorld, str, str]) -> None:
    world, external_id, symphonics_id = story
    history = _history(world.sync_dsn, external_id)
    steps = [(h["from_state"], h["to_state"], h["run_id"]) for h in history]
    assert steps == [
        (None, "pending", "h-create"),
        ("pending", "prevalidated", "h-create"),
        ("prevalidated", "ready", "h-create"),
        ("ready", "sending", "h-create"),
        ("sending", "published", "h-create"),
        ("published", "sending", "h-crash"),
        ("sending", "sending", "h-resend"),
        ("sending", "conflict_unresolved", "h-resend"),
        ("conflict_unresolved", "published", "h-reconcile"),
    ]
    times = [h["changed_at"] for h in history]
    assert times == sorted(times)
    assert history[4]["symphonics_id"] == symphonics_id
    assert history[4]["request_id"] is not None  # the create's, in the call log
    assert history[7]["request_id"] not in (None, history[4]["request_id"])  # the resend's
    assert history[7]["reason"] == "conflict_id_unknown"
    assert history[8]["symphonics_id"] == symphonics_id
    assert [h["attempts"] for h in history[5:7]] == [1, 2]


def test_the_history_is_append_only_for_the_pipeline(story: tuple[PublishWorld, str, str]) -> None:
    world, external_id, _ = story
    with psycopg.connect(world.sync_dsn) as conn, pytest.raises(psycopg.errors.RaiseException):
        conn.execute(
            "UPDATE symphonics.ledger_history SET to_state = 'published' WHERE external_id = %s", (external_id,)
        )


def test_search_finds_the_row_by_each_key_and_tells_its_story(story: tuple[PublishWorld, str, str]) -> None:
    world, external_id, symphonics_id = story
    history = _history(world.sync_dsn, external_id)
    create_request_id = history[4]["request_id"]
    with psycopg.connect(world.sync_dsn, autocommit=True, row_factory=dict_row) as conn:
        poll_request_id = conn.execute(
            "SELECT request_id FROM symphonics.api_calls WHERE operation = 'get_intervention' AND path = %s",
            (f"/crm/interventions/{symphonics_id}",),
        ).fetchone()["request_id"]  # type: ignore[index]
        assert create_request_id
        assert poll_request_id
        for key in (external_id, symphonics_id, create_request_id, poll_request_id):
            found = [row["external_id"] for row in timeline.search(conn, key)]
            assert found == [external_id], key
        assert timeline.search(conn, "no-such-key") == []
        story_of = timeline.timeline(conn, external_id)
    assert story_of is not None
    events = story_of["events"]
    kinds = [event["kind"] for event in events]
    assert kinds[0] == "extracted"
    assert [event["at"] for event in events] == sorted(event["at"] for event in events)
    assert [e["title"] for e in events if e["kind"] == "state"][-1] == "conflict_unresolved → published"
    calls = [e for e in events if e["kind"] == "call"]
    by_request = {c["detail"]["request_id"]: c for c in calls}
    assert by_request[create_request_id]["detail"]["status"] == 201
    assert by_request[history[7]["request_id"]]["detail"]["status"] == 409
    assert by_request[poll_request_id]["detail"]["status"] == 200
    assert all({"status", "latency_ms", "attempt"} <= set(c["detail"]) for c in calls)
    assert any(e["kind"] == "webhook" and e["title"].endswith("→ processing") for e in events)
    poll = [e for e in events if e["kind"] == "poll"]
    assert len(poll) == 1
    # The partner's times are to the second: the poll's decision comes after the webhook's status, in time and in
    # the list.
    webhook = next(e for e in events if e["kind"] == "webhook")
    assert poll[0]["at"] >= webhook["at"]
    assert events.index(poll[0]) > events.index(webhook)
    assert poll[0]["title"].startswith("poll: status processing → ")
