"""Scenario 2: the publish task's process SIGKILLed in the middle of a batch, a create in flight."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import psycopg
import pytest

from include.symphonics.publish.publisher import CLAIM_LOCK_CLASS
from tests.faults.audit import create_calls, ledger_count, start_step, tally, wait_until
from tests.faults.conftest import ReliabilityCollector
from tests.publish.conftest import PublishWorld, run_pipeline

CREATE_LATENCY = 0.6  # the sandbox sleeps this long before committing a create, whether the client is there or not


def publish_locks_held(sync_dsn: str) -> int:
    """Publish claims' advisory locks held now (a killed publisher's goes when PostgreSQL sees its socket close)."""
    with psycopg.connect(sync_dsn) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s::oid AND granted",
            (CLAIM_LOCK_CLASS,),
        ).fetchone()
    return int(row[0]) if row else 0


def sending_row(sync_dsn: str) -> str | None:
    """The external id of a row committed as ``sending`` at least 0.2 s ago (its create has left by then)."""
    with psycopg.connect(sync_dsn) as conn:
        row = conn.execute(
            "SELECT external_id FROM symphonics.interventions_ledger "
            "WHERE state = 'sending' AND last_sent_at < now() - interval '0.2 seconds'"
        ).fetchone()
    return None if row is None else str(row[0])


def worker_connection(**extras: object) -> dict[str, str]:
    """The worker's ``symphonics_default`` with other extras (the test's own connection is left as it is)."""
    conn = json.loads(os.environ["AIRFLOW_CONN_SYMPHONICS_DEFAULT"])
    conn["extra"] = {**conn["extra"], **extras}
    return {"AIRFLOW_CONN_SYMPHONICS_DEFAULT": json.dumps(conn)}


@pytest.mark.parametrize("conflict_mode", ["bare", "with_id"])
def test_a_publish_process_killed_mid_create_loses_and_duplicates_nothing(
    fault_world: PublishWorld, conflict_mode: str, tmp_path: Path, reliability: ReliabilityCollector
) -> None:
    world = fault_world
    world.sandbox.configure(conflict_mode=conflict_mode)
    world.monkeypatch.setenv("SYMPHONICS_PUBLISH_BATCH_SIZE", "25")
    from include.symphonics.publish import steps

    steps.run_extract({}, run_id="prepare", run_type="manual", logical_date=None, schedule="*/15 * * * *")
    steps.run_prevalidate(run_id="prepare")
    steps.run_partner_validation(run_id="prepare")

    # Kill 1: creates are slow; the process dies while one is in flight (the sandbox drops a create whose
    # client hung up before it was read, so the partner never holds it).
    world.sandbox.latency("crm.create_intervention", CREATE_LATENCY)
    worker = start_step("publish", "killed-in-request", tmp_path)
    try:
        slow_one = wait_until(
            lambda: ledger_count(world.sync_dsn, "published") >= 2 and sending_row(world.sync_dsn),
            "a row in sending after two creates",
        )
    finally:
        worker.kill()
    assert worker.process.returncode == -signal.SIGKILL
    wait_until(lambda: publish_locks_held(world.sync_dsn) == 0, "the killed publisher's claim lock released")

    # Kill 2: the partner commits a create and its answer is lost; the process dies in the retry's backoff,
    # i.e. between the create arriving and its answer being stored.
    world.sandbox.clear_faults()
    world.sandbox.drop_after_commit(count=1)
    worker = start_step("publish", "killed-after-commit", tmp_path, env=worker_connection(backoff_base=20.0))
    try:
        wait_until(
            lambda: any(call["status"] is None for call in create_calls(world)),
            "a create committed by the partner, its answer dropped",
        )
    finally:
        worker.kill()
    assert worker.process.returncode == -signal.SIGKILL
    wait_until(lambda: publish_locks_held(world.sync_dsn) == 0, "the killed publisher's claim lock released")
    sending = {external_id for external_id, row in world.rows().items() if row["state"] == "sending"}
    held = set(world.partner_external_ids())
    committed_in_flight = sending & held
    assert slow_one in sending
    # The second process resends the first one's row first: the dropped create is that one or a later one.
    assert len(committed_in_flight) >= 1

    world.sandbox.clear_faults()
    result = run_pipeline("after-kills")
    counted = tally(world)
    rows = world.rows()
    reliability.record(
        "2",
        conflict_mode,
        faults=2,
        lost=counted.lost,
        duplicated=counted.duplicated,
        note="one kill mid-request, one after the partner committed the create",
    )
    assert counted.lost == 0
    assert counted.duplicated == 0
    assert counted.unexpected == 0
    assert counted.unresolved_without_path == 0
    assert counted.states.get("sending", 0) == 0
    assert counted.states.get("dead_letter", 0) == 0
    assert result["publish"]["stopped"] is None
    expected_state = "published" if conflict_mode == "with_id" else "conflict_unresolved"
    assert {rows[external_id]["state"] for external_id in committed_in_flight} == {expected_state}
    assert rows[slow_one]["state"] in ("published", expected_state)
    # Every create answered is new (201), or the resend of one committed before a kill (409); the sandbox logs
    # the create whose client died before it was read as a 500 (ClientDisconnect), creating nothing.
    statuses = [call["status"] for call in create_calls(world) if call["status"] is not None]
    assert statuses.count(409) == len(committed_in_flight)
    assert statuses.count(500) <= 1
    assert set(statuses) <= {201, 409, 500}
