"""Scale-out on Airflow's CeleryExecutor: three workers, four kinds of run at once, the partner's limits exact.

A real Airflow (api-server, scheduler, three ``airflow celery worker`` processes) on the session's databases
and a Redis of its own runs, at the same time, the scheduled publish run, a backfill of six publish
intervals (three at once), the reconcile and the healthcheck, against a sandbox at its documented limits
(100 requests a minute, 5,000 a day) time-scaled by :data:`TIME_SCALE`, on the demo data. The sandbox's own
call log then says: no window over its limit, no 429, each valid intervention created once. The workers' logs
say which worker ran which task. Two stand-alone webhook receivers on two ports take the same deliveries,
at once, and each event is stored once.

The figures (peak requests per window, 429s, creates per intervention, tasks per worker, the test's
duration) are printed for ``docs/PERFORMANCE.md``; the assertions are on behaviour only.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest

from include.symphonics_demo import ExpectedState, expected_outcomes
from tests.fixtures.sandbox import DEMO_WEBHOOK_SECRET, SandboxAdmin, SandboxProcess, start_sandbox, wait_until
from tests.fixtures.stack import TestStack, airflow_connection_json
from tests.publish.conftest import (  # noqa: F401 - fixtures
    DEMO_INTERVENTIONS,
    DEMO_SEED,
    clean_pipeline_tables,
    fresh_app_db,
    publish_app_template,
)
from tests.reconcile.conftest import clean_reconcile_tables
from tests.scale.celery_stack import (
    CeleryAirflow,
    TestBroker,
    runs_by_kind,
    runs_by_state,
    session_broker,
    start_celery_airflow,
)
from tests.webhooks.conftest import StandaloneReceiver, start_standalone, stop_standalone

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

WORKERS = 3
#: Sandbox seconds per real second: the partner's minute lasts 3 s, its day 72 min (longer than the test).
TIME_SCALE = 20.0
PER_MINUTE = 100  # docs/SANDBOX.md: the documented limits
PER_DAY = 5000
DAGS = ["symphonics_publish", "symphonics_reconcile", "symphonics_healthcheck"]
# Six 15-minute intervals: a backfill takes both ends.
BACKFILL = {"from_date": "2026-11-02T00:00:00Z", "to_date": "2026-11-02T01:15:00Z"}
RUNS_EXPECTED = 1 + 6 + 1 + 1  # scheduled publish, six backfilled, reconcile, healthcheck (at least)
#: Seconds before Redis hands a dead worker's task to another worker (above any task's length here).
VISIBILITY_TIMEOUT = 45
#: Seconds without a heartbeat before the scheduler fails a killed task's try and retries it.
HEARTBEAT_TIMEOUT = 15


@pytest.fixture
def scale_sandbox(tmp_path: Path) -> Iterator[SandboxProcess]:
    """A sandbox of its own at the documented limits, time-scaled (the session's one is reset by other tests)."""
    server = start_sandbox(
        {"time_scale": TIME_SCALE, "rate_limit_per_minute": PER_MINUTE, "rate_limit_per_day": PER_DAY},
        workdir=tmp_path,
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[TestBroker]:
    """The session's Redis (its own database and key prefix); its keys are removed afterwards."""
    found = session_broker(tmp_path)
    try:
        yield found
    finally:
        found.delete_keys()
        if found.process is not None:
            found.process.terminate()
            found.process.wait(timeout=10)


@pytest.fixture
def receivers(sync_dsn: str, tmp_path: Path) -> Iterator[list[StandaloneReceiver]]:
    """Two stand-alone webhook receivers on two ports, on the same ``sync`` database."""
    started: list[StandaloneReceiver] = []
    try:
        for _ in range(2):
            # Duplicates carry their event's first timestamp: a tolerance above the test's length keeps them
            # ordinary deliveries (late events are another suite's subject).
            receiver = start_standalone(
                sync_dsn,
                tmp_path,
                SYMPHONICS_WEBHOOK_SECRET=DEMO_WEBHOOK_SECRET,
                SYMPHONICS_WEBHOOK_TOLERANCE_SECONDS="3600",
            )
            started.append(receiver)
        yield started
    finally:
        for receiver in started:
            stop_standalone(receiver)


@pytest.fixture
def celery_airflow(
    stack: TestStack,
    sync_dsn: str,
    fresh_app_db: Callable[[], str],  # noqa: F811
    scale_sandbox: SandboxProcess,
    broker: TestBroker,
    tmp_path: Path,
) -> Iterator[CeleryAirflow]:
    """Airflow on three Celery workers, the demo data in ``app_db``, an empty ledger, the sandbox behind
    ``symphonics_default`` at the documented limits with the same time scale."""
    clean_pipeline_tables(sync_dsn)
    clean_reconcile_tables(sync_dsn)
    app_database = psycopg.conninfo.conninfo_to_dict(fresh_app_db()).get("dbname")
    connection = {
        "conn_type": "symphonics",
        "host": scale_sandbox.url,
        "login": SandboxAdmin(scale_sandbox.url).client_id,
        "password": SandboxAdmin(scale_sandbox.url).client_secret,
        "extra": {
            "requests_per_minute": PER_MINUTE,
            "requests_per_day": PER_DAY,
            "time_scale": TIME_SCALE,
            "allow_insecure_http": True,
            "backoff_base": 0.01,
            "max_quota_wait": 5.0,
            "timeout": 10.0,
            "connect_timeout": 2.0,
        },
    }
    # A metadata database of its own: the session's holds other suites' runs of the same DAGs (a copy of it as it
    # was migrated, before any run).
    metadata = stack.airflow_database(f"symphonics_scratch_{os.getpid()}_scale_airflow")
    env = {
        **os.environ,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": stack.server.sqlalchemy_url(str(metadata)),
        "AIRFLOW_CONN_APP_DB": airflow_connection_json(stack.server, str(app_database)),
        "AIRFLOW_CONN_SYMPHONICS_DEFAULT": json.dumps(connection),
        "AIRFLOW_VAR_SYMPHONICS_KILL_SWITCH": "off",
        # The scale scenario runs three backfill runs beside the scheduled one on purpose (refused by default).
        "SYMPHONICS_PUBLISH_ALLOW_BACKFILL": "true",
    }
    started = start_celery_airflow(
        env,
        broker,
        tmp_path / "airflow",
        workers=WORKERS,
        visibility_timeout=VISIBILITY_TIMEOUT,
        heartbeat_timeout=HEARTBEAT_TIMEOUT,
    )
    try:
        yield started
    finally:
        started.stop()


def _publish_in_flight(airflow: CeleryAirflow, sync_dsn: str) -> tuple[str, str, str] | None:
    """(worker, Celery task id, external id) of a publish task running on a worker with a create in flight."""
    with psycopg.connect(sync_dsn) as conn:
        sending = conn.execute(
            "SELECT external_id, last_run_id FROM symphonics.interventions_ledger WHERE state = 'sending'"
        ).fetchall()
    for worker in airflow.processes:
        if not worker.startswith("worker-") or worker in airflow.killed:
            continue
        for task_id, workload in airflow.executing(worker, unfinished=True).items():
            if "task_id='publish', dag_id='symphonics_publish'" not in workload:
                continue
            for external_id, run_id in sending:
                if f"run_id='{run_id}'" in workload:
                    return worker, task_id, str(external_id)
    return None


def _partner_calls(sandbox: SandboxAdmin) -> list[dict[str, Any]]:
    """Calls to the partner's routes by an identified client (what the limits count), from the sandbox's log."""
    return [call for call in sandbox.calls() if call["route"] and call["client_id"] and call["status"] != 401]


def _peak_per_window(calls: list[dict[str, Any]], window_seconds: float) -> int:
    """The most accepted calls in one of the sandbox's fixed windows (aligned on the epoch, in real seconds)."""
    counts = Counter(math.floor(call["time"] / window_seconds) for call in calls if call["status"] != 429)
    return max(counts.values(), default=0)


def test_three_celery_workers_keep_the_partner_limits_exact(
    celery_airflow: CeleryAirflow,
    scale_sandbox: SandboxProcess,
    receivers: list[StandaloneReceiver],
    sync_dsn: str,
) -> None:
    started = time.monotonic()
    airflow = celery_airflow
    sandbox = SandboxAdmin(scale_sandbox.url)
    sandbox.configure(webhook_url=receivers[0].url + "/")

    # All at once: unpausing schedules the latest publish, reconcile and healthcheck intervals; the backfill
    # adds six publish intervals, three of them running together beside the scheduled one.
    for dag_id in DAGS:
        airflow.api("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
    backfill = {"dag_id": "symphonics_publish", "max_active_runs": 3, **BACKFILL}
    assert airflow.api("POST", "/backfills/dry_run", json=backfill)["total_entries"] == 6
    airflow.api("POST", "/backfills", json=backfill)

    # One worker SIGKILLed (with its task processes) while a publish task of it has a create in flight.
    deadline = time.monotonic() + 300
    while (in_flight := _publish_in_flight(airflow, sync_dsn)) is None:
        airflow.check_alive()
        assert time.monotonic() < deadline, "no publish task with a create in flight was seen"
        time.sleep(0.1)
    killed_worker, killed_task, held_row = in_flight
    airflow.kill_worker(killed_worker)

    deadline = time.monotonic() + 600
    while True:
        airflow.check_alive()
        states = runs_by_state(airflow, DAGS)
        if sum(states.values()) >= RUNS_EXPECTED and set(states) <= {"success", "failed"}:
            break
        assert time.monotonic() < deadline, f"runs not finished within 600 s: {dict(states)}"
        time.sleep(3)
    runs_seconds = time.monotonic() - started
    creates_before_redelivery = len(sandbox.interventions())
    # Redis hands the dead worker's unacknowledged task to a live worker once the visibility timeout passes;
    # its try was already failed and retried by the scheduler, so the execution API refuses to run it again.
    redelivered_to = wait_until(
        lambda: [
            name for name, ids in airflow.workloads_per_worker().items() if name != killed_worker and killed_task in ids
        ],
        "the killed worker's task re-delivered by Celery",
        timeout=VISIBILITY_TIMEOUT + 60,
        interval=1,
    )

    # The same deliveries to each receiver: the sandbox's own events, re-sent byte for byte, eight at a time. The
    # sandbox delivers only to its configured URL (its admin API takes no other), so it is pointed at each in turn.
    events = sandbox.webhook_events()
    sent = []
    for receiver in receivers:
        sandbox.configure(webhook_url=receiver.url + "/")
        with ThreadPoolExecutor(max_workers=8) as pool:
            sent += list(pool.map(lambda event_id: sandbox.send_duplicate(event_id), [e["event_id"] for e in events]))
    deliveries = wait_until(
        lambda: (found := sandbox.webhook_deliveries()) and all(d["outcome"] != "pending" for d in found) and found,
        "every webhook delivery settled",
        timeout=60,
        interval=0.5,
    )
    with psycopg.connect(sync_dsn) as conn:
        stored = conn.execute("SELECT count(*), count(DISTINCT dedup_key) FROM symphonics.webhook_events").fetchone()
    assert stored is not None

    calls = _partner_calls(sandbox)
    too_many = [call for call in sandbox.calls() if call["status"] == 429]
    creates = [call for call in calls if call["method"] == "POST" and call["path"] == "/crm/interventions"]
    created = Counter(item["external_id"] for item in sandbox.interventions())
    expected = expected_outcomes(DEMO_SEED, DEMO_INTERVENTIONS).external_ids_in(ExpectedState.PUBLISHED)
    per_worker = {name: len(ids) for name, ids in airflow.workloads_per_worker().items()}
    peak_minute = _peak_per_window(calls, 60 / TIME_SCALE)
    peak_day = _peak_per_window(calls, 86400 / TIME_SCALE)
    with psycopg.connect(sync_dsn) as conn:
        held_state = conn.execute(
            "SELECT state FROM symphonics.interventions_ledger WHERE external_id = %s", (held_row,)
        ).fetchone()
    print(
        f"\nscale test: {killed_worker} killed with a create in flight (Celery re-delivered its task to "
        f"{redelivered_to}); {sum(states.values())} runs {dict(states)} in {runs_seconds:.0f} s; "
        f"{len(calls)} partner calls; peak {peak_minute}/{PER_MINUTE} per minute, {peak_day}/{PER_DAY} per day "
        f"(time scale {TIME_SCALE:g}); 429s: {len(too_many)}; create POSTs: {len(creates)} "
        f"({sum(call['status'] == 409 for call in creates)} answered 409) for {len(created)} "
        f"interventions (max {max(created.values(), default=0)} per intervention, {len(expected)} valid); "
        f"tasks per worker: {per_worker}; webhook events: {len(events)}, {len(deliveries)} deliveries "
        f"({len(sent)} duplicates) to {len(receivers)} receivers, {stored[0]} stored; "
        f"held row now {held_state}; total {time.monotonic() - started:.0f} s"
    )

    # Every run succeeded: the six backfilled and, per DAG, its latest scheduled interval, plus one more where its
    # schedule ticked during the test (at 01:00 UTC the publish, the healthcheck and the reconcile all tick).
    kinds = runs_by_kind(airflow, DAGS)
    assert set(states) == {"success"}, dict(kinds)
    assert kinds[("symphonics_publish", "backfill", "success")] == 6, dict(kinds)
    for dag_id in DAGS:
        assert 1 <= kinds[(dag_id, "scheduled", "success")] <= 2, dict(kinds)
    assert sum(kinds.values()) == 6 + sum(kinds[(dag_id, "scheduled", "success")] for dag_id in DAGS), dict(kinds)
    # Resolved, not stuck: published, or moved on by what the partner said since (webhooks, reconcile).
    assert held_state is not None
    assert held_state[0] != "sending", held_state
    assert created[held_row] == 1
    assert len(sandbox.interventions()) == creates_before_redelivery
    assert peak_minute <= PER_MINUTE
    assert peak_day <= PER_DAY
    assert too_many == []
    assert sorted(created) == sorted(expected)
    assert set(created.values()) == {1}
    assert len([call for call in creates if call["status"] == 201]) == len(expected)
    assert sum(1 for count in per_worker.values() if count > 0) >= 2, per_worker
    assert sum(per_worker.values()) >= RUNS_EXPECTED
    assert events, "the sandbox sent no webhook event (its lifecycle did not advance)"
    assert {delivery["url"] for delivery in deliveries} == {receiver.url + "/" for receiver in receivers}
    assert [d for d in deliveries if d["outcome"] != "delivered"] == []
    assert stored[0] == stored[1] == len(events)
