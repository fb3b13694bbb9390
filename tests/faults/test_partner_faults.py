"""Scenario 5: the partner misbehaves during a run: tokens revoked, a 429 storm, creates hanging past the client's
timeout, responses lost after the create was committed. Each: no duplicate, nothing lost, the right states."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest

from tests.faults.audit import WAIT_LIMIT, create_calls, ledger_count, tally, wait_until
from tests.faults.conftest import ReliabilityCollector
from tests.publish.conftest import PublishWorld, run_pipeline


def _assert_clean(world: PublishWorld, *, unresolved: int = 0) -> None:
    counted = tally(world)
    assert counted.lost == 0
    assert counted.duplicated == 0
    assert counted.unexpected == 0
    assert counted.unresolved_without_path == 0
    assert counted.states.get("conflict_unresolved", 0) == unresolved
    for state in ("sending", "dead_letter", "failed_retryable", "ready"):
        assert counted.states.get(state, 0) == 0, state


def _record(reliability: ReliabilityCollector, world: PublishWorld, case: str, faults: int) -> None:
    counted = tally(world)
    reliability.record("5", case, faults=faults, lost=counted.lost, duplicated=counted.duplicated)


def test_tokens_revoked_in_the_middle_of_a_run(fault_world: PublishWorld, reliability: ReliabilityCollector) -> None:
    world = fault_world
    world.sandbox.latency("crm.create_intervention", 0.01)
    outcome: dict[str, Any] = {}

    def publish() -> None:
        try:
            outcome["result"] = run_pipeline("revoked")
        except BaseException as exc:  # reported below
            outcome["error"] = exc

    runner = threading.Thread(target=publish, daemon=True)
    runner.start()
    revoked = 0
    for threshold in (40, 120):
        wait_until(lambda t=threshold: ledger_count(world.sync_dsn, "published") >= t, f"{threshold} published")
        revoked += world.sandbox.revoke_tokens()
    runner.join(timeout=WAIT_LIMIT)
    calls = world.sandbox.calls()
    _record(reliability, world, "tokens revoked twice mid-run", faults=2)
    assert not runner.is_alive()
    assert "error" not in outcome
    assert outcome["result"]["publish"]["stopped"] is None
    assert revoked >= 2
    # Each revocation cost one 401, one new token, and the refused request sent once more.
    assert sum(1 for call in calls if call["status"] == 401) == 2
    assert sum(1 for call in calls if call["route"] == "auth.token") == 3
    _assert_clean(world)


def test_a_429_storm_is_waited_out(fault_world: PublishWorld, reliability: ReliabilityCollector) -> None:
    world = fault_world
    world.sandbox.storm_429("crm.create_intervention", count=4, retry_after=1)
    result = run_pipeline("storm")
    creates = create_calls(world)
    _record(reliability, world, "429 storm on creates", faults=4)
    assert result["publish"]["stopped"] is None
    assert Counter(call["status"] for call in creates)[429] == 4
    assert len(creates) == world.expected.state_counts[_published()] + 4
    _assert_clean(world)


def test_creates_hanging_past_the_client_timeout(fault_world: PublishWorld, reliability: ReliabilityCollector) -> None:
    world = fault_world
    world.connect_sandbox(timeout=1.0)
    world.sandbox.hang("crm.create_intervention", seconds=20, count=2)
    result = run_pipeline("hang")
    creates = create_calls(world)
    hung = [call for call in creates if call["fault"] and "hang" in call["fault"]]
    _record(reliability, world, "2 creates hang past a 1 s read timeout", faults=2)
    assert result["publish"]["stopped"] is None
    # The client hung up on both; the sandbox created nothing for them; the retries created each once.
    assert [call["status"] for call in hung] == [None, None]
    assert {call["status"] for call in creates if call not in hung} == {201}
    _assert_clean(world)


@pytest.mark.parametrize("conflict_mode", ["bare", "with_id"])
def test_responses_lost_after_the_create_was_committed(
    fault_world: PublishWorld, conflict_mode: str, reliability: ReliabilityCollector
) -> None:
    world = fault_world
    world.sandbox.configure(conflict_mode=conflict_mode)
    world.sandbox.drop_after_commit(count=5)
    result = run_pipeline("lost-responses")
    creates = create_calls(world)
    _record(reliability, world, f"5 create responses lost ({conflict_mode})", faults=5)
    assert result["publish"]["stopped"] is None
    assert [call["status"] for call in creates].count(None) == 5
    assert [call["status"] for call in creates].count(409) == 5
    _assert_clean(world, unresolved=5 if conflict_mode == "bare" else 0)


def _published() -> Any:
    from include.symphonics_demo import ExpectedState

    return ExpectedState.PUBLISHED
