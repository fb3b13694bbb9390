"""End to end: the ``symphonics`` connection type in the real Airflow UI, driven in headless Chromium.

The session's api-server (``tests/fixtures/airflow_ui.py``) runs with the Test button enabled
(``AIRFLOW__CORE__TEST_CONNECTION``), the project's provider discovered from its installed distribution, and
``symphonics_default`` stored in the session's metadata database pointing at the sandbox with its demo credentials.
Its ``sync_db`` connection logs in as the pipeline's role, as ``make run``'s does. A person opens the connection's
edit form, reads the labelled fields, saves, and presses Test; the Test button's request
(``POST /api/v2/connections/test``) is also sent directly.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
import requests

from include.symphonics.core.quota_policy import CHECK_OPERATION
from tests.fixtures.airflow_ui import AirflowUi, ApiServer, chrome, free_port, log_in
from tests.fixtures.sandbox import SandboxAdmin

pytestmark = pytest.mark.integration

CONN_ID = "symphonics_default"
WEBHOOK_SECRET = "ui-form-webhook-secret-1"
PREVIOUS_WEBHOOK_SECRET = "ui-form-previous-webhook-secret-0"


@pytest.fixture
def api_server(airflow_ui: AirflowUi) -> AirflowUi:
    """The session's api-server (``tests/fixtures/airflow_ui.py``: the Test button on)."""
    return airflow_ui


@pytest.fixture
def stored_connection(api_server: AirflowUi, sandbox: SandboxAdmin) -> Iterator[dict[str, Any]]:
    """``symphonics_default`` in the metadata database: the sandbox and its demo credentials (the dashboard's put
    back afterwards: the server is the session's)."""
    headers = {"Authorization": f"Bearer {api_server.token()}"}
    body = {
        "connection_id": CONN_ID,
        "conn_type": "symphonics",
        "host": sandbox.url,
        "port": urlsplit(sandbox.url).port,
        "login": "wfa-sandbox-demo",
        "password": sandbox.client_secret,
        # As airflow_settings.yaml writes it: the form's fields listed, null when not set.
        "extra": json.dumps(
            {
                "webhook_secret": WEBHOOK_SECRET,
                "previous_webhook_secret": PREVIOUS_WEBHOOK_SECRET,
                "requests_per_minute": None,
                "requests_per_day": None,
                "priority_shares": None,
            }
        ),
    }
    requests.delete(f"{api_server.base_url}/api/v2/connections/{CONN_ID}", headers=headers, timeout=10)
    response = requests.post(f"{api_server.base_url}/api/v2/connections", json=body, headers=headers, timeout=10)
    assert response.status_code == 201, response.text
    yield body
    api_server.store_dashboard_connection()


def _headers(api_server: ApiServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_server.token()}"}


def _stored(conn_id: str = CONN_ID) -> tuple[str | None, dict[str, Any]]:
    """The password and extras kept in the metadata database (decrypted), read as Airflow reads them."""
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session

    with create_session() as session:
        conn = session.query(Connection).filter_by(conn_id=conn_id).one()
        return conn.password, json.loads(conn.extra or "{}")


def _open_the_edit_form(driver: Any, api_server: ApiServer) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, 30)
    driver.get(f"{api_server.base_url}/connections")
    wait.until(expected_conditions.element_to_be_clickable((By.CSS_SELECTOR, "button[aria-label='Edit Connection']")))
    driver.find_element(By.CSS_SELECTOR, "button[aria-label='Edit Connection']").click()
    dialog = wait.until(expected_conditions.visibility_of_element_located((By.CSS_SELECTOR, "[role=dialog]")))
    wait.until(lambda d: "Base URL" in dialog.text)
    for section in dialog.find_elements(By.CSS_SELECTOR, "button[data-part=item-trigger][aria-expanded=false]"):
        if section.text.strip() == "Extra Fields":
            section.click()
    wait.until(lambda d: "Webhook secret" in dialog.text)
    return dialog


def _input_labelled(dialog: Any, label: str) -> Any:
    """The input of the form row whose label reads ``label``."""
    from selenium.webdriver.common.by import By

    rows = dialog.find_elements(By.XPATH, f".//label[normalize-space()='{label}']")
    assert rows, f"no field labelled {label!r} in: {dialog.text}"
    fields = rows[0].find_elements(
        By.XPATH, "./ancestor::*[@data-part='root'][1]//*[self::input or self::textarea or self::select]"
    )
    assert fields, f"no input in the row of {label!r}"
    return fields[0]


def _toast_after_test(driver: Any, api_server: ApiServer) -> str:
    """Press the Test button of the connection's row and read the toast that answers."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, 30)
    driver.get(f"{api_server.base_url}/connections")
    button = wait.until(
        expected_conditions.element_to_be_clickable((By.CSS_SELECTOR, "button[aria-label='Test Connection']"))
    )
    button.click()
    toast = wait.until(
        expected_conditions.visibility_of_element_located((By.CSS_SELECTOR, "[data-part=root][data-type]"))
    )
    wait.until(lambda d: len(toast.text.splitlines()) >= 2)
    return str(toast.text)


def test_the_edit_form_shows_the_labelled_fields(
    api_server: ApiServer, stored_connection: dict[str, Any], tmp_path: Path
) -> None:
    driver = chrome(tmp_path, 1400, 1400)
    try:
        log_in(driver, api_server.base_url, api_server.password)
        dialog = _open_the_edit_form(driver, api_server)
        text = dialog.text

        assert "Symphonics" in text  # the connection type is known, not "Select Connection Type"
        for label in (
            "Base URL",
            "Client ID",
            "Client secret",
            "Port",
            "Webhook secret",
            "Previous webhook secret",
            "Requests per minute",
            "Requests per day",
            "Priority shares",
        ):
            assert _input_labelled(dialog, label) is not None
        assert "Schema" not in text.splitlines()
        assert _input_labelled(dialog, "Base URL").get_attribute("value") == stored_connection["host"]
        assert _input_labelled(dialog, "Client ID").get_attribute("value") == "wfa-sandbox-demo"
        for secret in ("Client secret", "Webhook secret", "Previous webhook secret"):
            field = _input_labelled(dialog, secret)
            assert field.get_attribute("type") == "password", secret
        assert stored_connection["password"] not in driver.page_source
        assert WEBHOOK_SECRET not in driver.page_source
        assert PREVIOUS_WEBHOOK_SECRET not in driver.page_source
        driver.save_screenshot(str(tmp_path / "connection-form.png"))
    finally:
        driver.quit()


def test_a_save_keeps_the_secrets_masked_and_intact(
    api_server: ApiServer, stored_connection: dict[str, Any], tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = chrome(tmp_path, 1400, 1400)
    try:
        log_in(driver, api_server.base_url, api_server.password)
        dialog = _open_the_edit_form(driver, api_server)
        per_minute = _input_labelled(dialog, "Requests per minute")
        per_minute.clear()
        per_minute.send_keys("90")
        next(b for b in dialog.find_elements(By.TAG_NAME, "button") if b.text.strip() == "Save").click()
        WebDriverWait(driver, 30).until(lambda d: not d.find_elements(By.CSS_SELECTOR, "[role=dialog]"))
    finally:
        driver.quit()

    password, extra = _stored()
    assert password == stored_connection["password"]
    assert extra["webhook_secret"] == WEBHOOK_SECRET
    assert extra["previous_webhook_secret"] == PREVIOUS_WEBHOOK_SECRET
    assert int(extra["requests_per_minute"]) == 90
    shown = requests.get(
        f"{api_server.base_url}/api/v2/connections/{CONN_ID}", headers=_headers(api_server), timeout=10
    ).json()
    assert WEBHOOK_SECRET not in json.dumps(shown)
    assert stored_connection["password"] not in json.dumps(shown)


def test_the_test_button_answers_ok_then_names_wrong_credentials(
    api_server: ApiServer,
    stored_connection: dict[str, Any],
    sandbox: SandboxAdmin,
    clean_client_state: str,
    tmp_path: Path,
) -> None:
    driver = chrome(tmp_path, 1400, 1000)
    try:
        log_in(driver, api_server.base_url, api_server.password)
        answer = _toast_after_test(driver, api_server)
        assert f"Connected to {sandbox.url} as wfa-sandbox-demo: a token was obtained" in answer, answer

        response = requests.patch(
            f"{api_server.base_url}/api/v2/connections/{CONN_ID}?update_mask=password",
            json={**stored_connection, "extra": None, "password": "a-wrong-client-secret"},
            headers=_headers(api_server),
            timeout=10,
        )
        assert response.status_code == 200, response.text
        answer = _toast_after_test(driver, api_server)
        assert (
            f"Credentials refused by {sandbox.url}: the client id 'wfa-sandbox-demo' or the client secret is wrong "
            "(HTTP 401)"
        ) in answer, answer
        assert "a-wrong-client-secret" not in answer
    finally:
        driver.quit()


# -- the Test button's request, through the REST API (issue 25 point 4) -----------------------------------------


def _test_through_the_api(api_server: ApiServer, body: dict[str, Any]) -> dict[str, Any]:
    response = requests.post(
        f"{api_server.base_url}/api/v2/connections/test", json=body, headers=_headers(api_server), timeout=60
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def _check_calls(sync_dsn: str) -> list[tuple[str, str, str, int | None, int]]:
    with psycopg.connect(sync_dsn) as conn:
        rows = conn.execute(
            "SELECT client_id, priority_class, operation, status, attempt FROM symphonics.api_calls "
            "WHERE operation = %s ORDER BY id",
            (CHECK_OPERATION,),
        ).fetchall()
    return [(str(a), str(b), str(c), d, int(e)) for a, b, c, d, e in rows]


@pytest.fixture
def clean_client_state(sync_dsn: str) -> str:
    """No call, token or quota left by another test."""
    with psycopg.connect(sync_dsn, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE symphonics.api_calls, symphonics.api_tokens, symphonics.quota_class_usage, "
            "symphonics.quota_windows"
        )
    return sync_dsn


def test_the_test_request_with_a_wrong_secret_is_one_attempt_recorded_as_an_ops_check(
    api_server: ApiServer, stored_connection: dict[str, Any], sandbox: SandboxAdmin, clean_client_state: str
) -> None:
    answer = _test_through_the_api(api_server, {**stored_connection, "password": "a-wrong-client-secret"})
    assert answer["status"] is False
    assert "Credentials refused" in answer["message"]
    assert "(HTTP 401)" in answer["message"]
    assert [c["path"] for c in sandbox.calls()] == ["/auth/token"]  # one request: no retry
    assert _check_calls(clean_client_state) == [("wfa-sandbox-demo", "ops", CHECK_OPERATION, 401, 1)]


def test_the_test_request_to_an_unreachable_host_is_one_attempt(
    api_server: ApiServer, stored_connection: dict[str, Any], clean_client_state: str
) -> None:
    closed_port = free_port()  # nothing listens there: the connection is refused
    answer = _test_through_the_api(
        api_server, {**stored_connection, "host": f"http://127.0.0.1:{closed_port}", "port": closed_port}
    )
    assert answer["status"] is False
    assert answer["message"].startswith(f"Partner unreachable at http://127.0.0.1:{closed_port}"), answer
    assert _check_calls(clean_client_state) == [("wfa-sandbox-demo", "ops", CHECK_OPERATION, None, 1)]


def test_the_test_request_with_the_minute_full_answers_quota_busy_and_sends_nothing(
    api_server: ApiServer, stored_connection: dict[str, Any], sandbox: SandboxAdmin, clean_client_state: str
) -> None:
    # Other processes of the same client id used the minute's two requests just now.
    with psycopg.connect(clean_client_state, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO symphonics.quota_windows (client_id, recent_sends) "
            "VALUES ('wfa-sandbox-demo', ARRAY[extract(epoch FROM now()), extract(epoch FROM now())])"
        )
    extra = {**json.loads(stored_connection["extra"]), "requests_per_minute": 2}
    answer = _test_through_the_api(api_server, {**stored_connection, "extra": json.dumps(extra)})
    assert answer["status"] is False
    assert answer["message"].startswith("Symphonics quota busy for "), answer
    seconds = int(answer["message"].split("busy for ")[1].split(" s")[0])
    assert 1 <= seconds <= 61
    assert sandbox.calls() == []
    assert _check_calls(clean_client_state) == []


def test_the_test_request_during_a_partner_floor_answers_quota_busy(
    api_server: ApiServer, stored_connection: dict[str, Any], sandbox: SandboxAdmin, clean_client_state: str
) -> None:
    # A Retry-After of ten minutes, seen by a run: the check waits for nothing and sends nothing.
    with psycopg.connect(clean_client_state, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO symphonics.quota_windows (client_id, server_remaining, server_reset_at) "
            "VALUES ('wfa-sandbox-demo', 0, now() + interval '600 seconds')"
        )
    answer = _test_through_the_api(api_server, stored_connection)
    assert answer["status"] is False
    assert answer["message"].startswith("Symphonics quota busy for "), answer
    assert int(answer["message"].split("busy for ")[1].split(" s")[0]) > 500
    assert sandbox.calls() == []
