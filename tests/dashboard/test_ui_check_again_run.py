"""End to end in headless Chromium, against the sandbox and the embedded PostgreSQL: an admin's "check again now" on a
row fixed in the app starts a run of ``symphonics_publish`` that publishes that row only, spending the calls the
dialog showed, with a backlog of other ready rows left untouched; the viewer's is refused and starts nothing.

No scheduler runs here: the run Airflow created from the dashboard's request is played with ``dag.test`` on the conf
Airflow stored for it (read back through the REST API).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from psycopg.rows import dict_row

from tests.fixtures.airflow_ui import AirflowUi, ApiServer, chrome, forget_run, log_in_as, needs_chromium, publish_runs
from tests.publish.conftest import (  # noqa: F401 (fixtures)
    PublishWorld,
    fresh_app_db,
    publish_app_template,
    publish_dag,
    validate_pipeline,
    world,
)

pytestmark = [pytest.mark.integration, needs_chromium]

FIXED_PHONE = "+33612345678"
_ROWS = """
SELECT external_id, state, state_reason, claim_key, last_run_id, updated_at, state_changed_at, prevalidated_at,
       validated_at, attempts, symphonics_id
  FROM symphonics.interventions_ledger
"""


def _rows(sync_dsn: str) -> dict[str, dict[str, Any]]:
    with psycopg.connect(sync_dsn, row_factory=dict_row) as conn:
        return {row["external_id"]: row for row in conn.execute(_ROWS).fetchall()}


def _requests(sync_dsn: str) -> int:
    with psycopg.connect(sync_dsn) as conn:
        row = conn.execute("SELECT count(*) FROM symphonics.api_calls").fetchone()
    assert row is not None
    return int(row[0])


def _a_row_refused_for_its_phone(sync_dsn: str) -> str:
    with psycopg.connect(sync_dsn) as conn:
        row = conn.execute(
            "SELECT min(external_id) FROM symphonics.interventions_ledger"
            " WHERE state = 'invalid' AND state_reason = 'invalid_phone'"
        ).fetchone()
    assert row is not None
    assert row[0] is not None
    return str(row[0])


@pytest.fixture
def check_again_server(airflow_ui: AirflowUi, request: pytest.FixtureRequest) -> ApiServer:
    """The session's api-server, whose dashboard reads the publish world's ``sync`` database (the session's)."""
    request.getfixturevalue("world")
    return airflow_ui


def test_check_again_as_admin_publishes_the_fixed_row_only_at_the_cost_shown(
    check_again_server: ApiServer, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    server = check_again_server
    publish_world: PublishWorld = request.getfixturevalue("world")
    dag: Any = request.getfixturevalue("publish_dag")
    # The backlog: every row validated, the valid ones left ready.
    validate_pipeline("check-warm")
    fixed = _a_row_refused_for_its_phone(publish_world.sync_dsn)
    with psycopg.connect(publish_world.app_dsn) as app:
        app.execute(
            "UPDATE public.customers SET phone = %s"
            " WHERE id = (SELECT customer_id FROM public.interventions WHERE external_id = %s)",
            (FIXED_PHONE, fixed),
        )
    # The fixed row is checked again: it passes the rules, the partner validates it (the answers are cached).
    validate_pipeline("check-fixed", external_ids=[fixed])
    before = _rows(publish_world.sync_dsn)
    backlog = sorted(external_id for external_id, row in before.items() if row["state"] == "ready")
    assert len(backlog) >= 10
    assert before[fixed]["state"] == "ready"
    backlog.remove(fixed)

    driver = chrome(tmp_path, 1280, 1400)
    new_runs: set[str] = set()
    try:
        wait = WebDriverWait(driver, 30)

        def open_dashboard(username: str, password: str) -> None:
            log_in_as(driver, server.base_url, username, password)
            driver.get(f"{server.base_url}/plugin/symphonics-dashboard")
            frame = wait.until(expected_conditions.presence_of_element_located((By.TAG_NAME, "iframe")))
            driver.switch_to.frame(frame)
            wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") == "true")
            driver.find_element(By.ID, "story-key").send_keys(fixed)
            driver.find_element(By.CSS_SELECTOR, "#story-search button[type=submit]").click()
            wait.until(lambda d: d.find_element(By.ID, "story-title").text.startswith(fixed))
            driver.find_element(By.ID, "check-again-row").click()
            wait.until(lambda d: d.find_element(By.ID, "check-again-confirm").is_enabled())

        def kpi(name: str) -> str:
            return str(driver.find_element(By.CSS_SELECTOR, f'[data-kpi="{name}"] .value').text)

        runs_before = {run["dag_run_id"] for run in publish_runs(server)}

        # The viewer: refused by Airflow, nothing starts.
        open_dashboard("viewer", server.viewer_password)
        driver.find_element(By.ID, "check-again-confirm").click()
        wait.until(lambda d: d.find_element(By.ID, "check-again-result").is_displayed())
        assert driver.find_element(By.ID, "check-again-result").text.startswith("Refused (403)")
        assert {run["dag_run_id"] for run in publish_runs(server)} == runs_before
        driver.delete_all_cookies()

        # The admin: the cost is the fixed row's alone (its create: its validations are cached, a token is held).
        open_dashboard("admin", server.password)
        shown_calls = int(kpi("check_again.calls"))
        assert shown_calls == 1
        driver.find_element(By.ID, "check-again-confirm").click()
        wait.until(lambda d: d.find_element(By.ID, "check-again-result").is_displayed())
        new_runs = {run["dag_run_id"] for run in publish_runs(server)} - runs_before
        assert len(new_runs) == 1, driver.find_element(By.ID, "check-again-result").text
    finally:
        driver.quit()

    (run_id,) = new_runs
    try:
        stored = requests.get(
            f"{server.base_url}/api/v2/dags/symphonics_publish/dagRuns/{run_id}",
            headers={"Authorization": f"Bearer {server.token('admin')}"},
            timeout=10,
        ).json()
        assert stored["conf"] == {"external_ids": [fixed]}
        requests_before, creates_before = _requests(publish_world.sync_dsn), len(publish_world.creates())
        run = dag.test(run_conf=stored["conf"])
        assert run.state == "success", {ti.task_id: ti.state for ti in run.get_task_instances()}
    finally:
        forget_run(server, run_id)

    after = _rows(publish_world.sync_dsn)
    assert after[fixed]["state"] == "published"
    assert publish_world.partner_external_ids() == [fixed]
    assert len(publish_world.creates()) - creates_before == 1
    assert _requests(publish_world.sync_dsn) - requests_before == shown_calls
    assert [external_id for external_id in backlog if after[external_id] != before[external_id]] == []
