"""Scenario 4: two runs (a scheduled one and a backfill) in two worker processes at once, under a tight quota."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import psycopg

from tests.faults.audit import create_calls, start_step, tally
from tests.faults.conftest import ReliabilityCollector
from tests.publish.conftest import PublishWorld, run_pipeline

DAY_LIMIT = 400  # the partner's (and the connection's) requests per day: not enough for every intervention


def test_two_runs_in_two_processes_keep_the_quota_exact_and_publish_each_once(
    fault_world: PublishWorld, tmp_path: Path, reliability: ReliabilityCollector
) -> None:
    world = fault_world
    world.monkeypatch.setenv("SYMPHONICS_PUBLISH_BATCH_SIZE", "10")
    world.sandbox.configure(rate_limit_per_day=DAY_LIMIT)
    world.connect_sandbox(requests_per_day=DAY_LIMIT)
    # A little latency on creates, so that the two publishers overlap.
    world.sandbox.latency("crm.create_intervention", 0.005)

    workers = [
        start_step("pipeline", "scheduled__2026-11-26T10:00:00+00:00", tmp_path),
        start_step("pipeline", "backfill__2026-11-25T10:00:00+00:00", tmp_path),
    ]
    try:
        codes = [worker.wait() for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
    results = [json.loads(worker.stdout().strip().splitlines()[-1]) for worker in workers]

    calls = world.sandbox.calls()
    statuses = Counter(call["status"] for call in calls)
    creates = create_calls(world)
    held = world.partner_external_ids()
    states = world.states()
    held_counts = Counter(held)
    duplicated = sum(count - 1 for count in held_counts.values() if count > 1)
    reliability.record(
        "4",
        "tight day quota",
        faults=2,
        duplicated=duplicated,
        note=f"{len(calls)} partner calls for a day of {DAY_LIMIT}",
    )
    assert codes == [0, 0]
    # The quota is exact: the partner never had to refuse, and the day's count stays within its limit.
    assert len(calls) <= DAY_LIMIT
    assert statuses[429] == 0
    # Both processes published, none twice: every create was new (a second create of one would be a 409).
    assert all(result["publish"]["published"] > 0 for result in results)
    assert sum(result["publish"]["published"] for result in results) == len(creates)
    assert {call["status"] for call in creates} == {201}
    assert duplicated == 0
    assert states.get("published", 0) == len(held)
    # What the day could not take is deferred, not failed.
    assert any(result["publish"]["stopped"] == "quota" for result in results)
    assert states.get("dead_letter", 0) == 0
    assert states.get("failed_retryable", 0) == 0
    assert states.get("sending", 0) == 0

    # The next day: the partner's day starts again (its counters and the floor it told us go), the backlog
    # drains, nothing lost, nothing twice.
    world.sandbox.configure(rate_limit_per_day=1_000_000)
    world.connect_sandbox(requests_per_day=1_000_000)
    world.sandbox.clear_faults()
    with psycopg.connect(world.sync_dsn) as conn:
        conn.execute("TRUNCATE symphonics.quota_windows, symphonics.quota_class_usage")
    drained = run_pipeline("next-day")
    counted = tally(world)
    reliability.record("4", "next day drains the backlog", faults=0, lost=counted.lost, duplicated=counted.duplicated)
    assert drained["publish"]["stopped"] is None
    assert counted.lost == 0
    assert counted.duplicated == 0
    assert counted.unexpected == 0
    assert {call["status"] for call in create_calls(world)} == {201}
