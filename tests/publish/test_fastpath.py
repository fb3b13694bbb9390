"""The event path: an asset-triggered run does the steps in one task, with the same outcome as the six tasks."""

from __future__ import annotations

from collections import Counter
from typing import Any

import psycopg
import pytest

from include.symphonics.publish import fastpath
from include.symphonics_demo import ExpectedState
from tests.publish.conftest import PublishWorld


@pytest.mark.parametrize(
    ("run_type", "path"),
    [
        ("asset_triggered", ["fast_publish"]),
        ("scheduled", ["check_params", "minimise_personal_data"]),
        ("manual", ["check_params", "minimise_personal_data"]),
        ("backfill", ["check_params", "minimise_personal_data"]),
        (None, ["check_params", "minimise_personal_data"]),
    ],
)
def test_only_an_asset_triggered_run_takes_the_event_path(run_type: str | None, path: list[str]) -> None:
    assert fastpath.choose_path(run_type) == path


def test_the_task_sdks_run_type_enum_is_read_by_its_value() -> None:
    from airflow.utils.types import DagRunType

    assert fastpath.choose_path(DagRunType.ASSET_TRIGGERED) == ["fast_publish"]
    assert fastpath.choose_path(DagRunType.MANUAL) == ["check_params", "minimise_personal_data"]


@pytest.mark.parametrize("value", ["false", "0", "off", "no", " False "])
def test_the_event_path_can_be_switched_off(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(fastpath.FAST_PATH_ENV, value)
    assert fastpath.choose_path("asset_triggered") == ["check_params", "minimise_personal_data"]


def test_the_branch_leads_to_both_paths_and_the_event_task_updates_the_ledger_asset(publish_dag: Any) -> None:
    choose = publish_dag.get_task("choose_path")
    assert choose.downstream_task_ids == {"fast_publish", "check_params", "minimise_personal_data"}
    assert [outlet.name for outlet in publish_dag.get_task("fast_publish").outlets] == ["symphonics_ledger"]
    assert publish_dag.get_task("fast_publish").retries >= 2


def _fast(run_id: str, **params: Any) -> dict[str, Any]:
    return fastpath.run_fast_path(
        {"external_ids": [], "from": None, "to": None, "dry_run": False, "force": False, **params},
        run_id=run_id,
        run_type="asset_triggered",
        logical_date=None,
        started_at=None,
        dag_id="symphonics_publish",
        schedule="*/15 * * * *",
    )


@pytest.mark.integration
def test_the_event_path_ends_the_demo_data_set_as_the_six_tasks_do_and_publishes_nothing_twice(
    world: PublishWorld,
) -> None:
    first = _fast("asset_triggered__fast_1")
    expected = {state.value: count for state, count in world.expected.state_counts.items() if count}
    assert world.states() == expected
    published = world.expected.state_counts[ExpectedState.PUBLISHED]
    assert first["published"] == published
    assert first["path"] == "fast_publish"
    creates = Counter(call["path"] for call in world.creates())
    assert sum(creates.values()) == published
    second = _fast("asset_triggered__fast_2")
    assert second["published"] == 0
    assert len(world.creates()) == published
    assert sorted(world.partner_external_ids()) == sorted(world.expected.external_ids_in(ExpectedState.PUBLISHED))
    with psycopg.connect(world.sync_dsn) as conn:
        summaries = dict(conn.execute("SELECT run_id, run_type FROM symphonics.publish_runs").fetchall())
    assert summaries == {"asset_triggered__fast_1": "asset_triggered", "asset_triggered__fast_2": "asset_triggered"}


@pytest.mark.integration
def test_the_event_path_honours_the_kill_switch_and_writes_its_summary(world: PublishWorld) -> None:
    world.kill_switch("on")
    killed = _fast("asset_triggered__killed")
    assert world.sandbox.calls() == []
    assert killed["kill_switch"] is True
    assert killed["published"] == 0
    world.kill_switch("off")
    resumed = _fast("asset_triggered__resumed")
    assert resumed["published"] == world.expected.state_counts[ExpectedState.PUBLISHED]


@pytest.mark.integration
def test_a_manual_run_takes_the_six_tasks_and_skips_the_event_task(world: PublishWorld, publish_dag: Any) -> None:
    run = publish_dag.test()
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states.pop("fast_publish") == "skipped"
    assert set(states.values()) == {"success"}, states
    assert set(states) == {
        "choose_path",
        "check_params",
        "extract",
        "prevalidate",
        "validate_with_partner",
        "publish",
        "summarise",
        "minimise_personal_data",
    }
    assert len(world.creates()) == world.expected.state_counts[ExpectedState.PUBLISHED]
