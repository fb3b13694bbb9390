"""The publish steps are listed once: the DAG's tasks and the event path follow the same list, in its order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from include.symphonics.publish import fastpath
from include.symphonics.publish.sequence import (
    CHECK_PARAMS_TASK,
    FAST_TASK,
    PUBLISH_STEPS,
    STEP_BY_STEP_TASKS,
    PublishRun,
    PublishStep,
    run_steps,
)

RUN = PublishRun(
    params={},
    run_id="sequence",
    run_type="manual",
    logical_date=None,
    started_at=None,
    dag_id="symphonics_publish",
    schedule="*/15 * * * *",
)


def test_the_steps_are_in_the_pipelines_order() -> None:
    assert [step.task_id for step in PUBLISH_STEPS] == [
        "extract",
        "prevalidate",
        "validate_with_partner",
        "publish",
        "minimise_personal_data",
        "summarise",
    ]
    assert STEP_BY_STEP_TASKS == ("check_params", "minimise_personal_data")


def test_each_step_takes_only_results_of_steps_before_it() -> None:
    before: set[str] = set()
    for step in PUBLISH_STEPS:
        assert set(step.takes) <= before, step.task_id
        before.add(step.result)


def test_the_dags_step_tasks_are_the_steps_chained_in_their_order(publish_dag: Any) -> None:
    chained = [step.task_id for step in PUBLISH_STEPS if not step.runs_whatever_happened]
    previous = CHECK_PARAMS_TASK
    for task_id in chained:
        assert previous in publish_dag.get_task(task_id).upstream_task_ids, task_id
        previous = task_id
    for step in PUBLISH_STEPS:
        task = publish_dag.get_task(step.task_id)
        assert [outlet.name for outlet in task.outlets] == (["symphonics_ledger"] if step.updates_ledger_asset else [])
        expected_rule = "all_done_min_one_success" if step.runs_whatever_happened else "all_success"
        assert task.trigger_rule == expected_rule
        assert task.retries >= 2
    assert publish_dag.get_task("summarise").upstream_task_ids == {
        "extract",
        "prevalidate",
        "validate_with_partner",
        "publish",
    }
    assert publish_dag.get_task("minimise_personal_data").upstream_task_ids == {"choose_path", "publish"}
    assert publish_dag.get_task("choose_path").downstream_task_ids == {FAST_TASK, *STEP_BY_STEP_TASKS}
    assert set(fastpath.choose_path("manual")) | set(fastpath.choose_path("asset_triggered")) <= set(
        publish_dag.task_ids
    )


def _recording(done: list[str], fails: str | None = None) -> tuple[PublishStep, ...]:
    """The steps with bodies that record their call (and what they were given) instead of working."""

    def body_of(step: PublishStep) -> Any:
        def body(run: PublishRun, earlier: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
            done.append(step.task_id)
            if step.task_id == fails:
                raise RuntimeError(f"{step.task_id} failed")
            return {"step": step.task_id, "earlier": sorted(earlier)}

        return body

    return tuple(
        PublishStep(
            step.task_id,
            step.result,
            body_of(step),
            takes=step.takes,
            runs_whatever_happened=step.runs_whatever_happened,
        )
        for step in PUBLISH_STEPS
    )


def test_the_event_path_runs_every_step_in_order_and_gives_summarise_the_four_counts() -> None:
    done: list[str] = []
    results = run_steps(RUN, _recording(done))
    assert done == [step.task_id for step in PUBLISH_STEPS]
    assert results["summary"]["earlier"] == ["extracted", "local", "partner", "published"]
    assert results["minimised"]["earlier"] == []


@pytest.mark.parametrize("failing", ["extract", "validate_with_partner", "publish"])
def test_a_failed_step_still_minimises_then_fails_without_a_summary(failing: str) -> None:
    done: list[str] = []
    with pytest.raises(RuntimeError, match=f"{failing} failed"):
        run_steps(RUN, _recording(done, fails=failing))
    order = [step.task_id for step in PUBLISH_STEPS]
    assert done == [*order[: order.index(failing) + 1], "minimise_personal_data"]


def test_a_failed_minimisation_stops_the_summary() -> None:
    done: list[str] = []
    with pytest.raises(RuntimeError, match="minimise_personal_data failed"):
        run_steps(RUN, _recording(done, fails="minimise_personal_data"))
    assert "summarise" not in done
