"""The publish DAG end to end with ``dag.test()``: the sandbox, the embedded PostgreSQL, the demo data set."""

from __future__ import annotations

from collections import Counter
from typing import Any

import psycopg

from include.symphonics_demo import ExpectedState
from tests.publish.conftest import PublishWorld


def _run(dag: Any, **params: Any) -> Any:
    run = dag.test(run_conf=params or None)
    assert run.state == "success", {ti.task_id: ti.state for ti in run.get_task_instances()}
    return run


def _expected_states(world: PublishWorld) -> dict[str, int]:
    counts = {state.value: count for state, count in world.expected.state_counts.items() if count}
    return counts


def test_the_demo_data_set_ends_with_the_expected_count_in_each_state(world: PublishWorld, publish_dag: Any) -> None:
    _run(publish_dag)
    assert world.states() == _expected_states(world)
    rows = world.rows()
    for external_id, outcome in world.expected.outcomes.items():
        row = rows[external_id]
        assert row["state"] == outcome.state.value, (external_id, outcome.case, row["state"], row["state_reason"])
        if outcome.state is not ExpectedState.PUBLISHED:
            assert outcome.reason is not None
            assert row["state_reason"] == outcome.reason.value, (external_id, outcome.case, row["state_detail"])
    creates = Counter(call["path"] for call in world.creates())
    assert sum(creates.values()) == world.expected.state_counts[ExpectedState.PUBLISHED]
    assert sorted(world.partner_external_ids()) == sorted(world.expected.external_ids_in(ExpectedState.PUBLISHED))


def test_running_again_publishes_nothing_twice_and_a_range_over_published_days_sends_no_create(
    world: PublishWorld, publish_dag: Any
) -> None:
    first = _run(publish_dag)
    creates = len(world.creates())
    _run(publish_dag)
    _run(publish_dag, **{"from": "2024-12-01T00:00:00Z", "to": "2027-01-01T00:00:00Z"})
    assert len(world.creates()) == creates
    assert world.states() == _expected_states(world)
    assert len(world.partner_external_ids()) == len(set(world.partner_external_ids()))
    summaries = _summaries(world)
    assert summaries[first.run_id]["published"] == world.expected.state_counts[ExpectedState.PUBLISHED]
    assert all(s["published"] == 0 for run_id, s in summaries.items() if run_id != first.run_id)


def test_dry_run_and_kill_switch_send_no_create_and_the_runs_succeed(world: PublishWorld, publish_dag: Any) -> None:
    world.kill_switch("on")
    killed = _run(publish_dag)
    assert world.sandbox.calls() == []
    assert world.states()["prevalidated"] == sum(
        world.expected.state_counts[state] for state in (ExpectedState.PUBLISHED, ExpectedState.REJECTED_VALIDATION)
    )
    world.kill_switch("off")
    before = world.rows()
    dry = _run(publish_dag, dry_run=True)
    assert world.creates() == []
    assert world.rows() == before  # a dry run changes nothing in the ledger
    with psycopg.connect(world.sync_dsn) as conn:
        planned = conn.execute(
            "SELECT count(*) FROM symphonics.dry_run_results WHERE run_id = %s AND action = 'create'", (dry.run_id,)
        ).fetchone()
    assert planned == (world.expected.state_counts[ExpectedState.PUBLISHED],)
    summaries = _summaries(world)
    assert summaries[killed.run_id]["kill_switch"] is True
    assert summaries[dry.run_id]["dry_run"] is True
    assert summaries[dry.run_id]["published"] == 0


def _summaries(world: PublishWorld) -> dict[str, dict[str, Any]]:
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(world.sync_dsn, row_factory=dict_row) as conn:
        rows = conn.execute("SELECT * FROM symphonics.publish_runs").fetchall()
    return {row["run_id"]: row for row in rows}
