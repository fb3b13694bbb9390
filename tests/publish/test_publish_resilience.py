"""Exactly once under concurrency, lost responses, 5xx bursts, crashes, and a spent quota (steps called directly)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from include.symphonics_demo import ExpectedState
from include.symphonics_demo.mutate import mutate_database
from tests.publish.conftest import DEMO_SEED, PublishWorld, run_pipeline


def _validated(world: PublishWorld, run_id: str = "prepare") -> None:
    from include.symphonics.publish import steps

    steps.run_extract({}, run_id=run_id, run_type="manual", logical_date=None, schedule="*/15 * * * *")
    steps.run_prevalidate(run_id=run_id)
    steps.run_partner_validation(run_id=run_id)


def _assert_each_published_once(world: PublishWorld) -> None:
    held = world.partner_external_ids()
    assert len(held) == len(set(held)), "an intervention was created twice"
    assert sorted(held) == sorted(world.expected.external_ids_in(ExpectedState.PUBLISHED))


def test_two_publishers_at_once_publish_each_intervention_once(world: PublishWorld) -> None:
    from include.symphonics.publish import steps

    _validated(world)
    # Small batches, so that both publishers get rows to claim.
    world.monkeypatch.setenv("SYMPHONICS_PUBLISH_BATCH_SIZE", "10")
    world.sandbox.latency("crm.create_intervention", 0.002)
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def publish() -> None:
        try:
            results.append(steps.run_publish({}, run_id="concurrent"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=publish) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert all(result["published"] > 0 for result in results), "both publishers should have taken a share"
    assert sum(result["published"] for result in results) == world.expected.state_counts[ExpectedState.PUBLISHED]
    assert len(world.creates()) == world.expected.state_counts[ExpectedState.PUBLISHED]
    _assert_each_published_once(world)


def test_5xx_bursts_leave_no_duplicate_and_lose_nothing(world: PublishWorld) -> None:
    # A lost create response (the partner committed it) is tested once per level: the client's in
    # tests/client/test_client_sandbox.py, the pipeline's below (a row left in `sending` that the partner holds),
    # the fault suite's in tests/faults/test_partner_faults.py.
    _validated(world)
    world.sandbox.burst("crm.create_intervention", count=4, status=503)
    world.sandbox.burst("crm.create_intervention", count=12, status=502)
    run_pipeline("faulty")
    world.sandbox.clear_faults()
    run_pipeline("next")
    _assert_each_published_once(world)
    states = world.states()
    assert states.get("published", 0) == world.expected.state_counts[ExpectedState.PUBLISHED]
    assert states.get("conflict_unresolved", 0) == 0


@pytest.mark.parametrize("conflict_mode", ["bare", "with_id"])
def test_a_crash_leaving_rows_in_sending_is_resolved_by_sending_again(world: PublishWorld, conflict_mode: str) -> None:
    world.sandbox.configure(conflict_mode=conflict_mode)
    _validated(world)
    crash = (
        "UPDATE symphonics.interventions_ledger SET state = 'sending', attempts = 1, symphonics_id = NULL, "
        "claim_key = 999999 WHERE external_id = ANY(%s)"
    )
    with psycopg.connect(world.sync_dsn) as conn:
        # A crash after `sending` was committed, before the create left: the partner never saw these two.
        never_sent = [
            r[0]
            for r in conn.execute(
                "SELECT external_id FROM symphonics.interventions_ledger WHERE state = 'ready' ORDER BY id LIMIT 2"
            ).fetchall()
        ]
        conn.execute(crash, (never_sent,))
    run_pipeline("first")
    rows = world.rows()
    assert all(rows[external_id]["state"] == "published" for external_id in never_sent)
    with psycopg.connect(world.sync_dsn) as conn:
        # A crash after the create arrived, before its answer was recorded: the partner holds these two.
        arrived = [
            r[0]
            for r in conn.execute(
                "SELECT external_id FROM symphonics.interventions_ledger "
                "WHERE state = 'published' ORDER BY id DESC LIMIT 2"
            ).fetchall()
        ]
        conn.execute(crash, (arrived,))
    creates_before = len(world.creates())
    run_pipeline("after-crash")
    rows = world.rows()
    expected_state = "published" if conflict_mode == "with_id" else "conflict_unresolved"
    assert all(rows[external_id]["state"] == expected_state for external_id in arrived)
    if conflict_mode == "bare":
        assert {rows[external_id]["state_reason"] for external_id in arrived} == {"conflict_id_unknown"}
    assert len(world.creates()) == creates_before + 2
    _assert_each_published_once(world)


def test_a_spent_quota_share_ends_the_run_cleanly_with_the_rest_deferred(world: PublishWorld) -> None:
    # A day of 400 requests, 75 % for publishing: the validations and part of the creates fit, not the rest.
    world.connect_sandbox(requests_per_day=400)
    result = run_pipeline("quota")
    assert result["publish"]["stopped"] == "quota" or result["partner"]["stopped"] == "quota"
    states = world.states()
    assert states.get("ready", 0) + states.get("prevalidated", 0) > 0
    assert result["publish"]["backlog"] > 0
    assert result["publish"]["eta"] is not None
    _held = world.partner_external_ids()
    assert len(_held) == len(set(_held))


def test_a_long_retry_after_ends_the_run_at_once_with_the_rest_deferred_to_its_end(world: PublishWorld) -> None:
    # Issue 23: the partner asks for ten minutes (Retry-After alone), more than the run may wait (max_quota_wait).
    world.sandbox.storm_429("crm.create_intervention", count=1, retry_after=600, rate_headers=False)
    started = datetime.now(UTC)
    result = run_pipeline("retry-after")
    assert result["publish"]["stopped"] == "quota"
    eta = datetime.fromisoformat(result["publish"]["eta"])
    assert started + timedelta(seconds=590) <= eta <= started + timedelta(seconds=700)
    assert [call["status"] for call in world.creates()] == [429]  # one create, refused; none after it
    states = world.states()
    assert states.get("sending", 0) == 0
    assert states.get("ready", 0) == result["publish"]["backlog"] > 0


def test_changes_after_publication_patch_new_documents_or_are_reported(world: PublishWorld) -> None:
    run_pipeline("first")
    report = mutate_database(world.app_dsn, seed=DEMO_SEED, edits=10)
    run_pipeline("after-mutate")
    rows = world.rows()
    patches = world.patches()
    late = [m for m in report.mutations if m.action.value == "late_document"]
    assert len(patches) == len(late)
    for mutation in report.mutations:
        row = rows[mutation.external_id]
        assert row["state"] == mutation.expected_state, (mutation, row["state_detail"])
        if mutation.action.value == "address_edit":
            assert set(row["changed_fields"]) == {"installation.address"}
        if mutation.action.value == "cancellation":
            assert row["changed_fields"] == {"status": {"sent": "completed", "now": "cancelled"}}
        if mutation.action.value == "late_document":
            added = [d for d in row["sent_documents"] if d["type"] == "additional_proof"]
            assert added
    run_pipeline("again")
    assert len(world.patches()) == len(late)
