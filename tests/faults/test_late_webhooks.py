"""Scenario 6: the webhook receiver down for longer than 5 minutes while the partner retries.

Time is controlled, never waited for: the sandbox runs its retry clock fast (``time_scale``), so its retries
span more than 5 sandbox minutes in well under a second, and the deliveries that reach the receiver once it is
back are re-stamped 400 s in the past (``send_replay(age_seconds=400)``), as a delivery the partner retries late
would be. The receiver is the real stand-alone one, in a process of its own, on the test's ``sync`` database.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from tests.faults.audit import tally, wait_until
from tests.faults.conftest import ReliabilityCollector
from tests.fixtures.sandbox import free_port
from tests.publish.conftest import PublishWorld, run_pipeline
from tests.webhooks.conftest import StandaloneReceiver, start_standalone, stop_standalone

TOLERANCE = 300  # the receiver's (and the document's) 5 minutes
LATE_BY = 400  # seconds: how old the deliveries are when the receiver is back
TIME_SCALE = 600  # sandbox seconds per real second, for the retry backoff only
RETRY = {"max_attempts": 4, "initial_backoff": 60, "multiplier": 2, "max_backoff": 300, "timeout": 2}


def _retry_span(policy: dict[str, Any]) -> float:
    """Sandbox seconds between a delivery's first attempt and its last."""
    return float(
        sum(
            min(policy["max_backoff"], policy["initial_backoff"] * policy["multiplier"] ** (attempt - 1))
            for attempt in range(1, policy["max_attempts"])
        )
    )


def _rows(dsn: str, sql: str) -> list[dict[str, Any]]:
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        return list(conn.execute(sql))  # type: ignore[arg-type]


def _all_given_up(world: PublishWorld, kind: str, expected: int) -> list[dict[str, Any]] | None:
    deliveries = [delivery for delivery in world.sandbox.webhook_deliveries() if delivery["kind"] == kind]
    if len(deliveries) == expected and all(delivery["outcome"] != "pending" for delivery in deliveries):
        return deliveries
    return None


def test_late_deliveries_after_a_long_outage_are_refused_recorded_and_polled(
    fault_world: PublishWorld, tmp_path: Path, reliability: ReliabilityCollector
) -> None:
    world = fault_world
    world.monkeypatch.setenv("SYMPHONICS_RECONCILE_POLL_AFTER_HOURS", "48")  # only the queued polls are due
    published = run_pipeline("before-the-outage")
    assert published["publish"]["stopped"] is None
    assert _retry_span(RETRY) > TOLERANCE

    # The receiver is down: the partner decides everything and retries each delivery until it gives up.
    nobody_there = f"http://127.0.0.1:{free_port()}/symphonics/webhooks"
    world.sandbox.configure(webhook_url=nobody_there, webhook_retry=RETRY, time_scale=TIME_SCALE)
    world.sandbox.settle()
    events = world.sandbox.webhook_events()
    assert events
    missed = wait_until(lambda: _all_given_up(world, "event", len(events)), "every delivery given up")
    missed_attempts = sum(len(delivery["attempts"]) for delivery in missed)

    # Back, more than 5 minutes later: every event arrives late, and the partner retries each refusal.
    server = start_standalone_for(world, tmp_path)
    # Every event has happened (settled): pointing the sandbox at the receiver sends only the replays below.
    world.sandbox.configure(webhook_url=f"{server.url}/symphonics/webhooks")
    try:
        for event in events:
            world.sandbox.send_replay(event["event_id"], age_seconds=LATE_BY)
        late = wait_until(lambda: _all_given_up(world, "replay", len(events)), "every late delivery answered")
    finally:
        stop_standalone(server)
    answers = Counter(attempt["status_code"] for delivery in late for attempt in delivery["attempts"])
    late_attempts = sum(answers.values())
    stored = _rows(world.sync_dsn, "SELECT intervention_id, late, processed_at FROM symphonics.webhook_events")
    rejections = _rows(
        world.sync_dsn, "SELECT reason, status_code, webhook_event_id FROM symphonics.webhook_rejections"
    )
    queued = _rows(world.sync_dsn, "SELECT intervention_id, external_id, reason FROM symphonics.status_poll_queue")
    about = {event["intervention_id"] for event in events}

    # The reconciliation's poll step asks the partner about each queued intervention.
    from include.symphonics.reconcile import steps as reconcile_steps

    polls_before = len(world.sandbox.calls("/crm/interventions"))
    polled = reconcile_steps.run_poll_statuses(run_id="after-the-outage")
    gets = [call for call in world.sandbox.calls("/crm/interventions")[polls_before:] if call["method"] == "GET"]
    partner_status = {item["id"]: item["status"] for item in world.sandbox.interventions()}
    state = {
        row["symphonics_id"]: row
        for row in _rows(world.sync_dsn, "SELECT symphonics_id, partner_status FROM symphonics.intervention_sync_state")
    }
    history = _rows(world.sync_dsn, "SELECT symphonics_id FROM symphonics.status_history WHERE source = 'poll'")
    pending = _rows(world.sync_dsn, "SELECT id FROM symphonics.status_poll_queue WHERE done_at IS NULL")
    counted = tally(world)
    server_errors = sum(count for status, count in answers.items() if status is not None and status >= 500)
    reliability.record(
        "6",
        f"{len(events)} events, receiver down then {LATE_BY} s late",
        faults=missed_attempts + late_attempts,
        lost=counted.lost,
        duplicated=counted.duplicated,
        server_errors=server_errors,
        note=f"{missed_attempts} attempts while down, {late_attempts} late attempts refused",
    )

    # While down: every delivery was retried to the end, never delivered.
    assert {delivery["outcome"] for delivery in missed} == {"failed"}
    assert {len(delivery["attempts"]) for delivery in missed} == {RETRY["max_attempts"]}
    # Late: every attempt (first and retries) refused with the document's 4xx, never a 5xx, never accepted.
    assert set(answers) == {422}
    assert {delivery["outcome"] for delivery in late} == {"failed"}
    assert server_errors == 0
    # Recorded: each event once, flagged late, left for the polls; each refused attempt counted, linked to it.
    assert len(stored) == len(events)
    assert {row["late"] for row in stored} == {True}
    assert {row["processed_at"] for row in stored} == {None}
    assert len(rejections) == late_attempts
    assert {(row["reason"], row["status_code"]) for row in rejections} == {("stale", 422)}
    assert all(row["webhook_event_id"] is not None for row in rejections)
    # Queued: one poll per intervention concerned.
    assert len(queued) == len(about)
    assert {row["intervention_id"] for row in queued} == about
    assert {row["reason"] for row in queued} == {"late_webhook"}
    # Polled: one GET each; each intervention at the partner's status; the queue done.
    assert polled["candidates"] == len(about)
    assert polled["polled"] == len(about)
    assert polled["errors"] == 0
    assert polled["deferred"] == 0
    assert len(gets) == len(about)
    assert {call["status"] for call in gets} == {200}
    assert {intervention_id: state.get(intervention_id, {}).get("partner_status") for intervention_id in about} == {
        intervention_id: partner_status[intervention_id] for intervention_id in about
    }
    assert {row["symphonics_id"] for row in history} == about
    assert pending == []
    assert counted.lost == 0
    assert counted.duplicated == 0


def start_standalone_for(world: PublishWorld, workdir: Path) -> StandaloneReceiver:
    """The stand-alone receiver on the world's ``sync`` database, with the sandbox's webhook secret."""
    return start_standalone(
        world.sync_dsn,
        workdir,
        SYMPHONICS_WEBHOOK_SECRET=world.sandbox.webhook_secret,
        SYMPHONICS_WEBHOOK_PREVIOUS_SECRET="",
        SYMPHONICS_WEBHOOK_TOLERANCE_SECONDS=str(TOLERANCE),
    )
