"""Scenario 3: PostgreSQL restarted in the middle of a publish run.

The scenario's ``sync`` database lives on a second embedded server of its own (the session's server, which
holds every other test's databases and Airflow's metadata, is never disturbed). The publish step runs in a
process of its own against it; the server is restarted (fast shutdown, then started again) while a create is
in flight. The process must end by itself (failing cleanly, or recovering), and the next run must resume
without losing or duplicating anything.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from include.symphonics.db import migrate
from include.symphonics_devstack import localpg
from tests.faults.audit import (
    WAIT_LIMIT,
    create_calls,
    ledger_count,
    session_database,
    start_step,
    tally,
    wait_until,
)
from tests.faults.conftest import ReliabilityCollector
from tests.fixtures.sandbox import REPO_ROOT
from tests.fixtures.stack import airflow_connection_json
from tests.publish.conftest import PublishWorld

CREATE_LATENCY = 0.3  # the sandbox holds each create this long: the restart lands while one is in flight
RESTART_AFTER_PUBLISHED = 8
SYNC_DATABASE = session_database("pgrestart_sync")

_START_IN_ITS_OWN_PROCESS = (
    "import sys; from pathlib import Path; from include.symphonics_devstack import localpg; "
    "print(localpg.start_embedded(Path(sys.argv[1])).admin_url)"
)


@dataclass
class SecondServer:
    """The scenario's own embedded PostgreSQL."""

    data_dir: Path
    server: localpg.PgServer

    @property
    def sync_dsn(self) -> str:
        """The scenario's ``sync`` database on it."""
        return self.server.url(SYNC_DATABASE)

    def restart(self) -> str:
        """Fast shutdown (every connection is cut), then start again; the admin URL it answers on afterwards.

        Started from a process of its own: in this process, ``localpg.start_embedded`` would hand back pgserver's
        cached handle on the stopped server (see :func:`test_start_embedded_after_stop_in_one_process_restarts`).
        """
        assert localpg.stop_embedded(self.data_dir)
        started = subprocess.run(
            [sys.executable, "-W", "ignore", "-c", _START_IN_ITS_OWN_PROCESS, str(self.data_dir)],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=WAIT_LIMIT,
            check=True,
        )
        return started.stdout.strip().splitlines()[-1]


@pytest.fixture
def second_server(tmp_path: Path) -> Iterator[SecondServer]:
    """A second embedded server in the test's folder, with the scenario's ``sync`` database migrated; stopped
    whatever happens."""
    data_dir = tmp_path / "pg"
    try:
        server = localpg.start_embedded(data_dir)
        server.ensure_databases([SYNC_DATABASE], recreate=True)
        migrate.upgrade(server.url(SYNC_DATABASE))
        yield SecondServer(data_dir, server)
    finally:
        localpg.stop_embedded(data_dir)


def _answers(dsn: str) -> bool:
    try:
        with psycopg.connect(dsn, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return False
    return True


def _sending_in_flight(sync_dsn: str) -> bool:
    """A row committed as ``sending`` at least 0.1 s ago: its create has left and the sandbox holds it."""
    with psycopg.connect(sync_dsn) as conn:
        row = conn.execute(
            "SELECT count(*) FROM symphonics.interventions_ledger "
            "WHERE state = 'sending' AND last_sent_at < now() - interval '0.1 seconds'"
        ).fetchone()
    return bool(row and row[0])


@pytest.mark.parametrize("conflict_mode", ["bare", "with_id"])
def test_postgres_restarted_mid_publish_loses_and_duplicates_nothing(
    fault_world: PublishWorld,
    second_server: SecondServer,
    conflict_mode: str,
    tmp_path: Path,
    reliability: ReliabilityCollector,
) -> None:
    # The scenario's world: the app database and the sandbox of the publish world, the ledger on the second server.
    monkeypatch = fault_world.monkeypatch
    monkeypatch.setenv("AIRFLOW_CONN_SYNC_DB", airflow_connection_json(second_server.server, SYNC_DATABASE))
    monkeypatch.setenv("SYMPHONICS_PUBLISH_BATCH_SIZE", "25")
    world = PublishWorld(
        app_dsn=fault_world.app_dsn,
        sync_dsn=second_server.sync_dsn,
        sandbox=fault_world.sandbox,
        expected=fault_world.expected,
        monkeypatch=monkeypatch,
    )
    world.sandbox.configure(conflict_mode=conflict_mode)
    from include.symphonics.publish import steps

    steps.run_extract({}, run_id="prepare", run_type="manual", logical_date=None, schedule="*/15 * * * *")
    steps.run_prevalidate(run_id="prepare")
    steps.run_partner_validation(run_id="prepare")
    ready = ledger_count(world.sync_dsn, "ready")
    assert ready > RESTART_AFTER_PUBLISHED

    world.sandbox.latency("crm.create_intervention", CREATE_LATENCY)
    worker = start_step("publish", "restarted-under-it", tmp_path)
    try:
        wait_until(
            lambda: (
                ledger_count(world.sync_dsn, "published") >= RESTART_AFTER_PUBLISHED
                and _sending_in_flight(world.sync_dsn)
            ),
            f"{RESTART_AFTER_PUBLISHED} published and a create in flight",
        )
        admin_url = second_server.restart()
        # The process ends by itself: its connections are gone, it fails (or recovers) without hanging.
        code = worker.wait(timeout=WAIT_LIMIT)
    finally:
        worker.kill()
    stderr = worker.stderr()
    assert admin_url == second_server.server.admin_url
    assert _answers(world.sync_dsn)
    in_flight = {external_id for external_id, row in world.rows().items() if row["state"] == "sending"}
    held_after_restart = set(world.partner_external_ids())

    world.sandbox.clear_faults()
    again = start_step("publish", "after-restart", tmp_path)
    try:
        again_code = again.wait(timeout=WAIT_LIMIT)
    finally:
        again.kill()
    counted = tally(world)
    rows = world.rows()
    reliability.record(
        "3",
        conflict_mode,
        faults=1,
        lost=counted.lost,
        duplicated=counted.duplicated,
        note=f"worker exit {code}, {len(in_flight)} row(s) left sending",
    )
    assert code != -signal.SIGKILL
    # Failing cleanly: it exits with PostgreSQL's error (or 0 had it recovered), never silently half-done.
    assert code == 0 or "psycopg" in stderr, stderr[-3000:]
    assert again_code == 0, again.stderr()[-3000:]
    assert counted.lost == 0
    assert counted.duplicated == 0
    assert counted.unexpected == 0
    assert counted.unresolved_without_path == 0
    for state in ("sending", "ready", "failed_retryable", "dead_letter"):
        assert counted.states.get(state, 0) == 0, state
    # A row the restart left sending whose create the partner had committed is resolved by its 409, not re-created.
    committed_in_flight = in_flight & held_after_restart
    expected_state = "published" if conflict_mode == "with_id" else "conflict_unresolved"
    assert {rows[external_id]["state"] for external_id in committed_in_flight} <= {expected_state}
    statuses = [call["status"] for call in create_calls(world) if call["status"] is not None]
    assert statuses.count(409) == len(committed_in_flight)
    assert set(statuses) <= {201, 409}


@pytest.mark.integration  # starts its own embedded PostgreSQL
def test_start_embedded_after_stop_in_one_process_restarts(tmp_path: Path) -> None:
    data_dir = tmp_path / "pg-once"
    try:
        server = localpg.start_embedded(data_dir)
        assert localpg.stop_embedded(data_dir)
        again = localpg.start_embedded(data_dir)
        assert again.admin_url == server.admin_url
        assert _answers(again.admin_url)
    finally:
        localpg.stop_embedded(data_dir)
