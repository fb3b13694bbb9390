"""End to end: the real api-server with the plugin, a real login, the dashboard inside the Airflow UI.

The api-server runs as a subprocess on a free port, its ``sync_db`` connection pointed at the seeded database
and its Symphonics connection carrying the tests' limits. One test speaks plain HTTP (401 without a login,
200 with a token from ``POST /auth/token``); the other logs in through the UI in headless Chromium, opens the
external view at ``/plugin/symphonics-dashboard``, checks the seeded figures inside its iframe and takes a
screenshot: into the test's temporary folder, or into ``docs/dashboard.png`` when
``SYMPHONICS_WRITE_SCREENSHOT=1`` (so an ordinary test run leaves the checkout clean).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from include.symphonics import localpg
from tests.dashboard.conftest import CLIENT_ID, Seeded
from tests.fixtures.stack import TestStack, airflow_connection_json

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOT = localpg.PROJECT_ROOT / "docs" / "dashboard.png"
DASHBOARD = "/symphonics/dashboard"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1500,1900",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ApiServer:
    """A running api-server and its demo login."""

    def __init__(self, base_url: str, password: str) -> None:
        self.base_url = base_url
        self.username = "admin"
        self.password = password

    def token(self) -> str:
        """A JWT from the simple auth manager's ``POST /auth/token``."""
        response = requests.post(
            f"{self.base_url}/auth/token",
            json={"username": self.username, "password": self.password},
            timeout=10,
        )
        assert response.status_code == 201, response.text
        return str(response.json()["access_token"])


@pytest.fixture(scope="module")
def api_server(stack: TestStack, seeded: Seeded) -> Iterator[ApiServer]:
    """``airflow api-server`` with the project's plugins, on a free port, for this module."""
    port = _free_port()
    password = secrets.token_urlsafe(12)
    # An Airflow home of its own: the password file must not leak into the session's other tests.
    home = Path(tempfile.mkdtemp(prefix="symphonics-dashboard-airflow-"))
    (home / "simple_auth_manager_passwords.json.generated").write_text(json.dumps({"admin": password}))
    day_start = seeded.now - timedelta(hours=2)
    symphonics = {
        "conn_type": "symphonics",
        "host": "http://127.0.0.1:9",
        "login": CLIENT_ID,
        "password": "not-used-by-the-dashboard",
        "extra": {"requests_per_minute": 100, "requests_per_day": 5000, "day_reset_utc": f"{day_start:%H:%M}"},
    }
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
        "AIRFLOW_CONN_SYNC_DB": airflow_connection_json(stack.server, urlsplit(seeded.url).path.lstrip("/")),
        "AIRFLOW_CONN_SYMPHONICS_DEFAULT": json.dumps(symphonics),
    }
    log_path = home / "api-server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "airflow", "api-server", "--port", str(port)],
            env=env,
            cwd=localpg.PROJECT_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"the api-server exited ({process.returncode}):\n{log_path.read_text()[-3000:]}")
            try:
                if requests.get(f"{base_url}/api/v2/monitor/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the api-server did not answer within 60 s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        yield ApiServer(base_url, password)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        shutil.rmtree(home, ignore_errors=True)


def test_dashboard_json_needs_the_airflow_login(api_server: ApiServer) -> None:
    url = f"{api_server.base_url}{DASHBOARD}/api/summary"

    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(f"{api_server.base_url}{DASHBOARD}/", timeout=10).status_code == 401
    assert requests.get(url, headers={"Authorization": "Bearer forged"}, timeout=10).status_code == 401

    response = requests.get(url, headers={"Authorization": f"Bearer {api_server.token()}"}, timeout=10)
    assert response.status_code == 200
    document = response.json()
    assert document["limits"]["source"] == "connection 'symphonics_default'"
    assert document["panels"]["quota"]["day_used"] == 32
    assert document["panels"]["backlog"]["backlog"] == 12


def test_plugin_is_listed_with_its_external_view(api_server: ApiServer) -> None:
    response = requests.get(
        f"{api_server.base_url}/api/v2/plugins",
        headers={"Authorization": f"Bearer {api_server.token()}"},
        timeout=10,
    )

    plugin = next(p for p in response.json()["plugins"] if p["name"] == "symphonics_dashboard")
    assert plugin["external_views"][0]["url_route"] == "symphonics-dashboard"
    assert plugin["fastapi_apps"][0]["url_prefix"] == DASHBOARD


@pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason="needs Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver)",
)
def test_dashboard_renders_inside_the_ui_after_a_real_login(api_server: ApiServer, tmp_path: Path) -> None:
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install selenium)")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        wait = WebDriverWait(driver, 30)
        driver.get(f"{api_server.base_url}/auth/login")
        wait.until(expected_conditions.presence_of_element_located((By.NAME, "username"))).send_keys("admin")
        driver.find_element(By.NAME, "password").send_keys(api_server.password)
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait.until(lambda d: "/auth/login" not in d.current_url)

        driver.get(f"{api_server.base_url}/plugin/symphonics-dashboard")
        frame = wait.until(expected_conditions.presence_of_element_located((By.TAG_NAME, "iframe")))
        assert (frame.get_attribute("src") or "").endswith(f"{DASHBOARD}/")
        driver.switch_to.frame(frame)
        wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") == "true")

        def kpi(name: str) -> str:
            return str(driver.find_element(By.CSS_SELECTOR, f'[data-kpi="{name}"] .value').text)

        assert kpi("quota.day_used") == "32 / 5,000"
        assert kpi("quota.publish") == "26"
        assert kpi("backlog.backlog") == "12"
        assert kpi("ops_queue.conflict_unresolved") == "2"
        assert kpi("webhooks.accepted") == "6"
        assert kpi("webhooks.refused") == "4"
        assert driver.find_element(By.CSS_SELECTOR, '[data-kpi="breaker.state"]').text.lower() == "closed"
        assert kpi("freshness.p95") == "11.6 s"
        assert "symphonics_completions" in driver.find_element(By.ID, "panel-freshness").text
        statuses = {
            card.get_attribute("id"): card.get_attribute("data-status")
            for card in driver.find_elements(By.CSS_SELECTOR, "section.card")
        }
        assert set(statuses.values()) == {"ok"}, statuses
        assert len(driver.find_elements(By.CSS_SELECTOR, "section.card svg")) >= 6
        rejections = driver.find_element(By.ID, "panel-rejections").text
        assert "invalid_email" in rejections
        assert "partner_refused" in rejections
        # The refusals as analytics.rejections counts them (the seeded ledger's 3 rejected_validation rows).
        assert "3 refusals in the last 7 days: 3 partner validation" in rejections

        driver.switch_to.default_content()
        # The iframe's own height is the UI's; the screenshot shows the page as an operator sees it.
        time.sleep(0.5)
        target = SCREENSHOT if os.environ.get("SYMPHONICS_WRITE_SCREENSHOT") == "1" else tmp_path / SCREENSHOT.name
        assert driver.save_screenshot(str(target))
        assert target.stat().st_size > 10_000
    finally:
        driver.quit()
