"""Scenario 1: the partner goes away in the middle of a run; the breaker opens, the rest is deferred (never
dead-lettered), and the next run drains the backlog."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from tests.faults.audit import WAIT_LIMIT, create_calls, ledger_count, tally, wait_until
from tests.faults.conftest import ReliabilityCollector
from tests.fixtures.sandbox import SandboxAdmin, SandboxProcess, free_port, start_sandbox
from tests.publish.conftest import PublishWorld, run_pipeline, set_symphonics_connection

BREAKER_FAILURES = 3
SANDBOX_LIMITS = {"rate_limit_per_minute": 1_000_000, "rate_limit_per_day": 10_000_000}


@pytest.fixture
def own_sandbox(tmp_path: Path) -> tuple[dict[str, Any], int, Path]:
    """A configuration (with a state file, so that interventions and tokens survive a restart) and a port."""
    config = {
        **SANDBOX_LIMITS,
        "processing_delay": 3600.0,
        "decision_delay": 3600.0,
        "state_file": str(tmp_path / "sandbox-state.sqlite"),
    }
    return config, free_port(), tmp_path


def _assert_deferred(world: PublishWorld, result: dict[str, Any]) -> None:
    states = world.states()
    assert result["publish"]["stopped"] == "unavailable"
    assert states.get("dead_letter", 0) == 0
    assert states.get("sending", 0) == 0
    assert states.get("failed_retryable", 0) <= BREAKER_FAILURES
    assert states.get("ready", 0) + states.get("failed_retryable", 0) == result["publish"]["backlog"]
    assert result["publish"]["backlog"] > 0


def test_the_sandbox_process_stopped_mid_run_then_back(
    fault_world: PublishWorld, own_sandbox: tuple[dict[str, Any], int, Path], reliability: ReliabilityCollector
) -> None:
    config, port, workdir = own_sandbox
    server: SandboxProcess = start_sandbox(config, port=port, workdir=workdir)
    try:
        world = PublishWorld(
            app_dsn=fault_world.app_dsn,
            sync_dsn=fault_world.sync_dsn,
            sandbox=SandboxAdmin(server.url),
            expected=fault_world.expected,
            monkeypatch=fault_world.monkeypatch,
        )
        set_symphonics_connection(world.monkeypatch, world.sandbox, breaker_failures=BREAKER_FAILURES)
        world.sandbox.latency("crm.create_intervention", 0.01)
        outcome: dict[str, Any] = {}

        def publish() -> None:
            try:
                outcome["result"] = run_pipeline("partner-goes-away")
            except BaseException as exc:  # reported below
                outcome["error"] = exc

        runner = threading.Thread(target=publish, daemon=True)
        runner.start()
        wait_until(lambda: ledger_count(world.sync_dsn, "published") >= 30, "30 published")
        server.stop()
        runner.join(timeout=WAIT_LIMIT)
        assert not runner.is_alive()
        assert "error" not in outcome
        _assert_deferred(world, outcome["result"])

        # Back on the same port, with its interventions and tokens: the next run drains the backlog.
        server = start_sandbox(config, port=port, workdir=workdir)
        world.sandbox.configure(**SANDBOX_LIMITS)
        result = run_pipeline("partner-is-back")
        counted = tally(world)
        reliability.record(
            "1", "sandbox process stopped, restarted", faults=2, lost=counted.lost, duplicated=counted.duplicated
        )
        assert result["publish"]["stopped"] is None
        assert counted.lost == 0
        assert counted.duplicated == 0
        assert counted.unexpected == 0
        assert counted.unresolved_without_path == 0
        assert counted.states.get("dead_letter", 0) == 0
        assert counted.states.get("ready", 0) == 0
        assert counted.states.get("failed_retryable", 0) == 0
    finally:
        server.stop()


def test_a_503_burst_longer_than_the_retries(fault_world: PublishWorld, reliability: ReliabilityCollector) -> None:
    world = fault_world
    world.connect_sandbox(breaker_failures=BREAKER_FAILURES)
    world.sandbox.burst("crm.create_intervention", count=1000, status=503)
    first = run_pipeline("partner-503")
    unavailable = [call for call in create_calls(world) if call["status"] == 503]
    _assert_deferred(world, first)
    assert world.partner_external_ids() == []

    world.sandbox.clear_faults()
    second = run_pipeline("partner-back")
    counted = tally(world)
    reliability.record(
        "1", "503 burst beyond the retries", faults=len(unavailable), lost=counted.lost, duplicated=counted.duplicated
    )
    assert second["publish"]["stopped"] is None
    assert counted.lost == 0
    assert counted.duplicated == 0
    assert counted.unexpected == 0
    assert counted.states.get("dead_letter", 0) == 0
    assert counted.states.get("failed_retryable", 0) == 0
