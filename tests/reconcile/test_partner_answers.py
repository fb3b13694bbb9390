"""The partner's answers to the reconciliation, end to end: a 404 on a published row's status (the sandbox's daily
reset), the ``next_steps`` of a status GET kept and shown, a ``document.verification`` that says ``rejected``."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from include.symphonics.reconcile import steps
from tests.publish.conftest import PublishWorld, run_pipeline
from tests.reconcile.conftest import WebhookFeed

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("as_pipeline_role")]


def _rows(dsn: str, query: str, *params: Any) -> list[dict[str, Any]]:
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        return conn.execute(query, params).fetchall()  # type: ignore[arg-type]


def _published(world: PublishWorld) -> dict[str, dict[str, Any]]:
    return {row["symphonics_id"]: row for row in world.rows().values() if row["state"] == "published"}


def test_a_404_on_a_published_rows_status_is_a_dead_letter_never_created_again(
    reconcile_world: PublishWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = reconcile_world
    run_pipeline("first")
    published = _published(world)
    world.sandbox.daily_reset()  # "test data is reset daily"
    monkeypatch.setenv("SYMPHONICS_RECONCILE_POLL_AFTER_HOURS", "0")  # every published row is due
    polled = steps.run_poll_statuses(run_id="after-reset")
    assert polled["not_found"] == len(published)
    rows = world.rows()
    assert {(row["state"], row["state_reason"]) for row in rows.values() if row["symphonics_id"] in published} == {
        ("dead_letter", "partner_not_found")
    }
    states = _rows(world.sync_dsn, "SELECT partner_status FROM symphonics.intervention_sync_state")
    assert {row["partner_status"] for row in states} == {"not_found"}
    creates = len(world.creates())
    run_pipeline("after-not-found")
    assert len(world.creates()) == creates  # never an automatic re-create
    assert world.partner_external_ids() == []


def test_next_steps_are_kept_and_shown_in_the_story_and_the_analysts_view(
    reconcile_world: PublishWorld, monkeypatch: pytest.MonkeyPatch, stack: Any
) -> None:
    from include.symphonics.dashboard.timeline import timeline
    from include.symphonics.db import roles
    from tests.fixtures.roles import as_login, login_in

    world = reconcile_world
    run_pipeline("first")
    world.sandbox.tick()  # created -> processing, with a pending verification as its next step
    monkeypatch.setenv("SYMPHONICS_RECONCILE_POLL_AFTER_HOURS", "0")
    steps.run_poll_statuses(run_id="poll")
    symphonics_id, row = sorted(_published(world).items())[0]
    (kept,) = _rows(
        world.sync_dsn,
        "SELECT next_steps FROM symphonics.intervention_sync_state WHERE symphonics_id = %s",
        symphonics_id,
    )
    assert [step["type"] for step in kept["next_steps"]] == ["verification"]
    assert kept["next_steps"][0]["status"] == "pending"
    steps.run_copy_app_state(run_id="poll")  # the analysts' view reads the app's copy
    (current,) = _rows(
        world.sync_dsn,
        "SELECT partner_next_steps FROM analytics.interventions_current WHERE external_id = %s",
        row["external_id"],
    )
    assert current["partner_next_steps"] == kept["next_steps"]
    with (
        login_in(stack.server, roles.DASHBOARD_ROLE) as (login, password),
        psycopg.connect(as_login(world.sync_dsn, login, password)) as conn,
    ):
        story = timeline(conn, row["external_id"])
    assert story is not None
    assert story["current"]["next_steps"] == kept["next_steps"]


def test_a_rejected_document_verification_is_applied(reconcile_world: PublishWorld, webhook_feed: WebhookFeed) -> None:
    world = reconcile_world
    run_pipeline("first")
    symphonics_id, row = sorted(_published(world).items())[0]
    event = {
        "event": "document.verification",
        "timestamp": _now_iso(),
        "data": {
            "intervention_id": symphonics_id,
            "external_id": row["external_id"],
            "document_type": "attestation_honneur",
            "verification_status": "rejected",
            "notes": "Signature manquante",
        },
    }
    assert webhook_feed.deliver(event) == 200
    applied = steps.run_apply_webhooks(run_id="document-rejected")
    assert applied["processed"] == 1
    (history,) = _rows(
        world.sync_dsn,
        "SELECT * FROM symphonics.status_history WHERE symphonics_id = %s AND event_kind = 'document'",
        symphonics_id,
    )
    assert (history["document_type"], history["to_status"], history["source"]) == (
        "attestation_honneur",
        "rejected",
        "webhook",
    )
    # A document's verdict is not the intervention's: the ledger row and its status stay as they were.
    assert world.rows()[row["external_id"]]["state"] == "published"


def _now_iso() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_webhook_completes_a_conflict_and_a_change_made_meanwhile_is_compared_again(
    reconcile_world: PublishWorld, webhook_feed: WebhookFeed
) -> None:
    from include.symphonics.publish import steps as publish_steps

    world = reconcile_world
    world.sandbox.configure(conflict_mode="bare")
    run_pipeline("first")
    symphonics_id, row = sorted(_published(world).items())[0]
    external_id = row["external_id"]
    with psycopg.connect(world.sync_dsn) as conn:
        # A crash after the create arrived: sent again, the bare 409 leaves it without its id.
        conn.execute(
            "UPDATE symphonics.interventions_ledger SET state = 'sending', attempts = 1, symphonics_id = NULL "
            "WHERE external_id = %s",
            (external_id,),
        )
    with psycopg.connect(world.app_dsn) as conn:  # meanwhile the app gets a late proof
        conn.execute(
            "INSERT INTO public.intervention_documents (intervention_id, type, name, url, created_at) "
            "SELECT id, 'additional_proof', 'Preuve supplémentaire', "
            "'https://app.workforce-automation.com/documents/' || external_id || '/late_proof.pdf', now() "
            "FROM public.interventions WHERE external_id = %s",
            (external_id,),
        )
    run_pipeline("conflict")
    assert world.rows()[external_id]["state"] == "conflict_unresolved"
    event = {
        "event": "intervention.status_update",
        "timestamp": _now_iso(),
        "data": {
            "intervention_id": symphonics_id,
            "external_id": external_id,
            "previous_status": "created",
            "new_status": "processing",
            "notes": "",
        },
    }
    assert webhook_feed.deliver(event) == 200
    assert steps.run_apply_webhooks(run_id="id-learnt")["conflicts_completed"] == 1
    row = world.rows()[external_id]
    assert (row["state"], row["symphonics_id"], row["source_changed_while_held"]) == (
        "published",
        symphonics_id,
        True,
    )
    publish_steps.run_prevalidate(run_id="compared-again")  # the change made meanwhile is compared: a PATCH is due
    assert world.rows()[external_id]["state"] == "ready"
    run_pipeline("patched")
    row = world.rows()[external_id]
    assert row["state"] == "updated"
    assert [call["path"] for call in world.patches()] == [f"/crm/interventions/{symphonics_id}"]
