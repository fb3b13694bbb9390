"""The data engineer's and the ops person's journeys in headless Debian Chromium, on a real Airflow:
log in, trigger ``symphonics_publish`` from the trigger form with a param, see the run succeed, open the
dashboard from the sidebar and find a failed run there, with its failing task and error.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import psycopg
import pytest

from tests.fixtures.airflow_ui import CHROMEDRIVER, CHROMIUM, chrome, log_in, screenshot_path
from tests.journey.conftest import AirflowStack

pytestmark = [
    pytest.mark.integration,
    # The first test of the folder also starts the whole Airflow (up to 2 min on a loaded machine).
    pytest.mark.timeout(900),
    pytest.mark.skipif(
        not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
        reason="needs Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver)",
    ),
]


def test_trigger_from_the_form_then_find_a_failed_run_on_the_dashboard(
    airflow_stack: AirflowStack, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    with psycopg.connect(airflow_stack.app_dsn) as conn:
        row = conn.execute("SELECT external_id FROM public.interventions ORDER BY id LIMIT 1").fetchone()
    assert row is not None
    external_id = str(row[0])
    # A data engineer's mistake, made through the REST API: a duration where a date-time is expected.
    failed = airflow_stack.api(
        "POST", "/dags/symphonics_publish/dagRuns", json={"logical_date": None, "conf": {"from": "P1D"}}
    ).json()
    assert airflow_stack.wait_for_run("symphonics_publish", failed["dag_run_id"])["state"] == "failed"

    driver = chrome(tmp_path, 1280, 1600)
    try:
        wait = WebDriverWait(driver, 60)
        log_in(driver, airflow_stack.base_url, airflow_stack.password)

        # The trigger form, with a param.
        driver.get(f"{airflow_stack.base_url}/dags/symphonics_publish")
        trigger = wait.until(
            expected_conditions.element_to_be_clickable((By.XPATH, "//button[normalize-space(.)='Trigger']"))
        )
        trigger.click()
        field = wait.until(expected_conditions.element_to_be_clickable((By.ID, "element_external_ids")))
        field.clear()
        field.send_keys(external_id)
        submit = wait.until(
            expected_conditions.element_to_be_clickable(
                (By.XPATH, "//*[@role='dialog']//button[normalize-space(.)='Trigger']")
            )
        )
        submit.click()

        # The run the form made: its conf holds the param; it succeeds.
        run_id = None
        deadline = time.monotonic() + 60
        while run_id is None and time.monotonic() < deadline:
            runs = airflow_stack.api(
                "GET", "/dags/symphonics_publish/dagRuns", params={"order_by": "-run_after", "limit": 5}
            ).json()["dag_runs"]
            run_id = next(
                (r["dag_run_id"] for r in runs if (r.get("conf") or {}).get("external_ids") == [external_id]), None
            )
            time.sleep(1)
        assert run_id is not None, "the form did not create a run with the external id"
        run = airflow_stack.wait_for_run("symphonics_publish", run_id)
        assert run["state"] == "success", airflow_stack.task_states("symphonics_publish", run_id)
        assert run["run_type"] == "manual"
        driver.get(f"{airflow_stack.base_url}/dags/symphonics_publish/runs/{run_id}")
        wait.until(lambda d: "success" in d.find_element(By.TAG_NAME, "body").text.lower())

        # The dashboard, from the sidebar.
        driver.get(f"{airflow_stack.base_url}/")
        entry = wait.until(
            expected_conditions.element_to_be_clickable(
                (By.CSS_SELECTOR, "a[href$='/plugin/symphonics-dashboard'], a[href$='plugin/symphonics-dashboard']")
            )
        )
        entry.click()
        frame = wait.until(expected_conditions.presence_of_element_located((By.TAG_NAME, "iframe")))
        driver.switch_to.frame(frame)
        wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") == "true")
        panel = driver.find_element(By.ID, "panel-failed_runs").text
        assert failed["dag_run_id"] in panel
        assert "choose_path" in panel  # the run's first task refuses a bad param
        assert "param 'from'" in panel
        assert run_id not in panel  # the successful run is not listed as failed
        runs_panel = driver.find_element(By.ID, "panel-runs").text
        assert run_id in runs_panel

        driver.switch_to.default_content()
        target = screenshot_path(tmp_path, 1280).with_name("journey-dashboard.png")
        if os.environ.get("SYMPHONICS_WRITE_SCREENSHOT") != "1":
            target = tmp_path / target.name
        assert driver.save_screenshot(str(target))
    finally:
        driver.quit()
