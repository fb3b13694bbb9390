"""The client's guard end to end. The kill switch: with it on, the three DAGs succeed, say so and send the sandbox
nothing, on data where the same runs with it off do send requests; turned on in the middle of a publish run, it
stops the next call. The run's budget: counted from the call log, so a re-run task sees what the run spent."""

from __future__ import annotations

import json
import threading
from typing import Any

import psycopg
import pytest

from include.symphonics_demo import ExpectedState
from tests.fixtures.sandbox import wait_until
from tests.publish.conftest import PublishWorld, run_pipeline
from tests.reconcile.conftest import clean_reconcile_tables, reconcile_dag  # noqa: F401 - fixture

pytestmark = pytest.mark.integration


def _run(dag: Any) -> Any:
    run = dag.test()
    assert run.state == "success", {ti.task_id: ti.state for ti in run.get_task_instances()}
    return run


def _validated(run_id: str) -> None:
    from include.symphonics.publish import steps

    steps.run_extract({}, run_id=run_id, run_type="manual", logical_date=None, schedule="*/15 * * * *")
    steps.run_prevalidate(run_id=run_id)
    steps.run_partner_validation(run_id=run_id)


def _returned(run: Any, task_id: str) -> Any:
    """What a task of a ``dag.test()`` run returned (its XCom)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.scalars(
            XComModel.get_many(run_id=run.run_id, key="return_value", task_ids=task_id, dag_ids=run.dag_id)
        ).first()
        assert row is not None, task_id
        value = XComModel.deserialize_value(row)
    return json.loads(value) if isinstance(value, str) else value


def _publish_summary(world: PublishWorld, run_id: str) -> dict[str, Any]:
    with psycopg.connect(world.sync_dsn, row_factory=psycopg.rows.dict_row) as conn:
        row = conn.execute("SELECT * FROM symphonics.publish_runs WHERE run_id = %s", (run_id,)).fetchone()
    assert row is not None
    return row


def _logged_calls(world: PublishWorld) -> int:
    with psycopg.connect(world.sync_dsn) as conn:
        return int(conn.execute("SELECT count(*) FROM symphonics.api_calls").fetchone()[0])  # type: ignore[index]


def test_publish_with_the_switch_on_sends_nothing_where_off_it_creates(world: PublishWorld, publish_dag: Any) -> None:
    published = world.expected.state_counts[ExpectedState.PUBLISHED]
    _validated("prepare")  # switch off: every row is validated, the ready ones wait for their create
    assert world.states()["ready"] == published
    calls, logged = len(world.sandbox.calls()), _logged_calls(world)
    assert calls > 0

    world.kill_switch("on")
    killed = _run(publish_dag)
    assert len(world.sandbox.calls()) == calls  # not one request, token requests included
    assert _logged_calls(world) == logged
    assert world.states()["ready"] == published
    summary = _publish_summary(world, killed.run_id)
    assert summary["kill_switch"] is True
    assert summary["published"] == 0
    assert _returned(killed, "publish")["stopped"] == "kill_switch"

    world.kill_switch("off")
    _run(publish_dag)
    assert len(world.creates()) == published
    assert world.states()["published"] == published


def test_reconcile_with_the_switch_on_polls_nothing_where_off_it_polls(
    world: PublishWorld,
    reconcile_dag: Any,  # noqa: F811 - the fixture imported above
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clean_reconcile_tables(world.sync_dsn)
    run_pipeline("publish")  # switch off: published rows, none heard of by webhook
    monkeypatch.setenv("SYMPHONICS_RECONCILE_POLL_AFTER_HOURS", "0")  # every published row is due for a poll
    due = world.expected.state_counts[ExpectedState.PUBLISHED]
    calls = len(world.sandbox.calls())

    world.kill_switch("on")
    killed = _run(reconcile_dag)
    assert len(world.sandbox.calls()) == calls
    polled = _returned(killed, "poll_statuses")
    assert polled["stopped"] == "kill_switch"
    assert (polled["polled"], polled["requests"], polled["errors"]) == (0, 0, 0)
    assert polled["deferred"] == polled["candidates"] > 0

    world.kill_switch("off")
    live = _run(reconcile_dag)
    gets = [c for c in world.sandbox.calls()[calls:] if c["method"] == "GET" and c["path"].startswith("/crm/")]
    polled = _returned(live, "poll_statuses")
    assert polled["stopped"] is None
    assert polled["polled"] == len(gets) == min(due, polled["candidates"]) > 0


def test_the_healthcheck_with_the_switch_on_contacts_nobody_and_says_so(
    world: PublishWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    from include.symphonics.health import KILL_SWITCH_DETAIL
    from tests.dags.test_dag_integrity import DAGS_DIR

    dag = DagBag(dag_folder=str(DAGS_DIR / "symphonics_healthcheck.py")).dags["symphonics_healthcheck"]

    def api_check(run_id: str) -> tuple[bool, str]:
        with psycopg.connect(world.sync_dsn) as conn:
            row = conn.execute(
                "SELECT ok, detail FROM symphonics.healthchecks WHERE run_id = %s AND component = 'symphonics_api'",
                (run_id,),
            ).fetchone()
        assert row is not None
        return bool(row[0]), str(row[1])

    world.kill_switch("on")
    killed = _run(dag)
    assert world.sandbox.calls() == []
    assert api_check(killed.run_id) == (True, KILL_SWITCH_DETAIL)
    assert "kill switch on" in KILL_SWITCH_DETAIL

    world.kill_switch("off")
    live = _run(dag)
    assert [call["path"] for call in world.sandbox.calls()] == ["/auth/token"]
    ok, detail = api_check(live.run_id)
    assert ok
    assert "a token was obtained" in detail


def test_the_switch_turned_on_mid_publish_stops_the_next_call(
    world: PublishWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    from include.symphonics import hook
    from include.symphonics.publish import steps

    # Read at every call (in production at most every 5 s): "the next call" is then exactly the next one.
    monkeypatch.setattr(hook, "DEFAULT_KILL_SWITCH_TTL", 0.0)
    published = world.expected.state_counts[ExpectedState.PUBLISHED]
    _validated("prepare")
    world.sandbox.latency("crm.create_intervention", 0.05)
    outcome: dict[str, Any] = {}

    def publish() -> None:
        try:
            outcome["result"] = steps.run_publish({}, run_id="switched-mid-run")
        except BaseException as exc:  # reported below
            outcome["error"] = exc

    runner = threading.Thread(target=publish, daemon=True)
    runner.start()
    wait_until(lambda: len(world.creates()) >= 10, "10 creates sent", timeout=60)
    world.kill_switch("on")
    sent_when_switched = len(world.creates())
    runner.join(timeout=60)
    assert not runner.is_alive()
    assert "error" not in outcome
    result = outcome["result"]
    assert result["stopped"] == "kill_switch"
    assert result["kill_switch"] is True
    # At most the create already in flight when the switch turned on; none after it.
    assert sent_when_switched <= len(world.creates()) <= sent_when_switched + 1
    assert len(world.creates()) < published
    states = world.states()
    assert states.get("sending", 0) == 0
    assert states["published"] == len(world.creates())
    assert states["ready"] == published - len(world.creates())

    world.kill_switch("off")
    steps.run_publish({}, run_id="after-the-switch")
    held = world.partner_external_ids()
    assert len(held) == len(set(held)) == published
    assert world.states()["published"] == published


def test_the_run_budget_is_counted_from_the_call_log_so_a_cleared_task_sees_what_the_run_spent(
    world: PublishWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    from include.symphonics.publish import steps

    run_id = "budgeted"
    # What the task runner exports, so the call log knows the run of each request.
    monkeypatch.setenv("AIRFLOW_CTX_DAG_ID", "symphonics_publish")
    monkeypatch.setenv("AIRFLOW_CTX_DAG_RUN_ID", run_id)
    _validated(run_id)
    spent_by_validation = steps.calls_of_run(world.sync_dsn, run_id)
    assert spent_by_validation == len(world.sandbox.calls()) > 0
    monkeypatch.setenv("SYMPHONICS_PUBLISH_CALL_BUDGET", str(spent_by_validation + 5))

    first = steps.run_publish({}, run_id=run_id)
    assert first["stopped"] == "budget"
    assert first["calls"] == 5
    assert len(world.creates()) == 5
    assert steps.calls_of_run(world.sync_dsn, run_id) == spent_by_validation + 5

    # The publish task cleared and run again: nothing comes from XCom, the call log says the budget is spent.
    again = steps.run_publish({}, run_id=run_id)
    assert again["stopped"] == "budget"
    assert again["calls"] == 0
    assert len(world.creates()) == 5
    assert world.states()["ready"] == world.expected.state_counts[ExpectedState.PUBLISHED] - 5
