"""Each DAG triggered through the REST API with ``"logical_date": null`` runs; a bad param fails at once.

A real api-server, scheduler and dag-processor (``tests/journey/conftest.py``), as a data engineer reaches them.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.journey.conftest import AirflowStack

# The first test of the folder also starts the whole Airflow (up to 2 min on a loaded machine).
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]


def _trigger(stack: AirflowStack, dag_id: str, conf: dict[str, Any] | None = None) -> dict[str, Any]:
    response = stack.api("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})
    assert response.status_code == 200, response.text
    return dict(response.json())


def _error_of(stack: AirflowStack, dag_id: str, run_id: str, task_id: str) -> str:
    logged = stack.api(
        "GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/1", params={"full_content": "true"}
    ).json()
    return "\n".join(str(entry) for entry in logged["content"])


@pytest.mark.parametrize("dag_id", ["symphonics_healthcheck", "symphonics_publish", "symphonics_reconcile"])
def test_every_dag_runs_when_triggered_without_a_logical_date(airflow_stack: AirflowStack, dag_id: str) -> None:
    triggered = _trigger(airflow_stack, dag_id)
    assert triggered["logical_date"] is None

    run = airflow_stack.wait_for_run(dag_id, triggered["dag_run_id"])

    states = airflow_stack.task_states(dag_id, triggered["dag_run_id"])
    assert run["state"] == "success", states
    assert run["logical_date"] is None
    # A manual run of the publish takes the step-by-step tasks: its event path (fast_publish) is skipped.
    skipped = {"fast_publish"} if dag_id == "symphonics_publish" else set()
    assert {task for task, (state, _) in states.items() if state == "skipped"} == skipped, states
    assert {state for task, (state, _) in states.items() if task not in skipped} == {"success"}, states


@pytest.mark.parametrize(
    "conf", [{"from": "not a date"}, {"from": "P1D"}, {"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}]
)
def test_a_bad_param_fails_the_run_at_once_naming_it(airflow_stack: AirflowStack, conf: dict[str, Any]) -> None:
    triggered = _trigger(airflow_stack, "symphonics_publish", conf)

    run = airflow_stack.wait_for_run("symphonics_publish", triggered["dag_run_id"])

    states = airflow_stack.task_states("symphonics_publish", triggered["dag_run_id"])
    assert run["state"] == "failed"
    assert states["choose_path"] == ("failed", 1)  # the run's first task: nothing else runs
    assert states["extract"][0] == "upstream_failed"
    assert "param 'from'" in _error_of(airflow_stack, "symphonics_publish", triggered["dag_run_id"], "choose_path")


def test_a_typod_param_fails_the_run_at_once_naming_it_and_nothing_runs(airflow_stack: AirflowStack) -> None:
    triggered = _trigger(airflow_stack, "symphonics_publish", {"dryrun": True})

    run = airflow_stack.wait_for_run("symphonics_publish", triggered["dag_run_id"])

    states = airflow_stack.task_states("symphonics_publish", triggered["dag_run_id"])
    assert run["state"] == "failed"
    assert states.pop("choose_path") == ("failed", 1)
    assert {state for state, _ in states.values()} <= {"upstream_failed", "skipped", None}, states
    error = _error_of(airflow_stack, "symphonics_publish", triggered["dag_run_id"], "choose_path")
    assert "param 'dryrun'" in error
    assert "did you mean 'dry_run'" in error


@pytest.mark.parametrize(
    ("dag_id", "conf", "name"),
    [
        ("symphonics_publish", {"external_ids": [1, None, {"a": 1}, True]}, "external_ids"),
        ("symphonics_publish", {"external_ids": [f"int_{n}" for n in range(501)]}, "external_ids"),
        ("symphonics_reconcile", {"snapshot_date": "yesterday"}, "snapshot_date"),
    ],
)
def test_a_param_outside_its_schema_is_refused_when_triggered(
    airflow_stack: AirflowStack, dag_id: str, conf: dict[str, Any], name: str
) -> None:
    response = airflow_stack.api("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf})

    assert response.status_code == 400, response.text
    assert f"param {name}" in response.text


def test_a_two_day_publish_backfill_is_refused_with_what_to_do_instead(airflow_stack: AirflowStack) -> None:
    backfill = {"dag_id": "symphonics_publish", "from_date": "2026-12-03T00:00:00Z", "to_date": "2026-12-05T00:00:00Z"}
    refused = airflow_stack.api("POST", "/backfills", json=backfill)

    assert refused.status_code == 400, refused.text
    assert "does not allow backfill runs" in refused.text
    dag = airflow_stack.api("GET", "/dags/symphonics_publish").json()
    assert "'from' and 'to'" in dag["description"]


def test_an_erasure_runs_under_the_pipelines_role_and_leaves_nothing_of_the_person(airflow_stack: AirflowStack) -> None:
    """Issue 25's walk: under ``make run``'s roles the erasure failed on every try (``ledger_history``)."""
    import psycopg

    with psycopg.connect(airflow_stack.app_dsn) as conn:
        row = conn.execute(
            "SELECT c.id, c.email FROM public.customers AS c JOIN public.interventions AS i ON i.customer_id = c.id"
            " WHERE c.email IS NOT NULL ORDER BY c.id LIMIT 1"
        ).fetchone()
    assert row is not None
    customer_id, email = int(row[0]), str(row[1])
    # Their interventions reach the ledger first (the publish's extraction), as on a deployment.
    published = _trigger(airflow_stack, "symphonics_publish")
    assert airflow_stack.wait_for_run("symphonics_publish", published["dag_run_id"])["state"] == "success"

    erasure = _trigger(airflow_stack, "symphonics_privacy_erasure", {"customer_id": customer_id, "reference": "T-1"})
    run = airflow_stack.wait_for_run("symphonics_privacy_erasure", erasure["dag_run_id"])

    states = airflow_stack.task_states("symphonics_privacy_erasure", erasure["dag_run_id"])
    assert run["state"] == "success", states
    assert states["erase"] == ("success", 1), states  # the first try: nothing refused, nothing retried
    with psycopg.connect(airflow_stack.sync_dsn) as conn:  # inspected as the owner
        recorded = conn.execute(
            "SELECT interventions, finished_at IS NOT NULL FROM symphonics.privacy_erasures WHERE reference = 'T-1'"
        ).fetchone()
        left = conn.execute(
            "SELECT count(*) FROM symphonics.interventions_ledger WHERE source::text ILIKE %s", (f"%{email}%",)
        ).fetchone()
    assert recorded is not None
    assert recorded[0] >= 1
    assert recorded[1] is True
    assert left == (0,)
