"""End to end: the real api-server with the plugin, a real login, the dashboard inside the Airflow UI.

The session's api-server (``tests/fixtures/airflow_ui.py``), its ``sync_db`` the session's ``sync`` database seeded
here, and its Symphonics connection carrying the tests' limits. One test speaks plain HTTP (401 without a login,
200 with a token from ``POST /auth/token``); the other logs in through the UI in headless Chromium, opens the
external view at ``/plugin/symphonics-dashboard``, checks the seeded figures inside its iframe and takes a
screenshot at 1280 and 1920 px: into the test's temporary folder, or into ``docs/dashboard-<width>.png`` when
``SYMPHONICS_WRITE_SCREENSHOT=1`` (so an ordinary test run leaves the checkout clean).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from tests.dashboard.conftest import CLIENT_ID, LONG_PARTNER_REASON, LONG_RUN_ID, seed, seed_newcomer_shapes
from tests.fixtures.airflow_ui import (
    CHROMEDRIVER,
    CHROMIUM,
    DASHBOARD,
    AirflowUi,
    ApiServer,
    chrome,
    empty_sync_tables,
    log_in,
    screenshot_path,
)


@pytest.fixture(scope="module")
def api_server(airflow_ui: AirflowUi, sync_dsn: str) -> Iterator[ApiServer]:
    """The session's api-server, its dashboard reading the seeded rows and the shapes that broke the page on a
    newcomer's demo (in the session's ``sync`` database, emptied before and after this module)."""
    empty_sync_tables(sync_dsn)
    now = datetime.now(UTC).replace(microsecond=0)
    seed(sync_dsn, now)
    seed_newcomer_shapes(sync_dsn, now)
    try:
        yield airflow_ui
    finally:
        empty_sync_tables(sync_dsn)


def test_dashboard_json_needs_the_airflow_login(api_server: ApiServer) -> None:
    url = f"{api_server.base_url}{DASHBOARD}/api/summary"

    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(f"{api_server.base_url}{DASHBOARD}/", timeout=10).status_code == 401
    assert requests.get(url, headers={"Authorization": "Bearer forged"}, timeout=10).status_code == 401

    response = requests.get(url, headers={"Authorization": f"Bearer {api_server.token()}"}, timeout=10)
    assert response.status_code == 200
    document = response.json()
    assert document["limits"]["source"] == "connection 'symphonics_default'"
    assert document["panels"]["quota"]["day_used"] == 33  # every client id (issue 25)
    assert document["panels"]["backlog"]["backlog"] == 12


def test_the_client_id_is_shown_only_to_users_who_may_read_connections(api_server: ApiServer) -> None:
    url = f"{api_server.base_url}{DASHBOARD}/api/summary"
    connections = f"{api_server.base_url}/api/v2/connections"
    admin = {"Authorization": f"Bearer {api_server.token('admin')}"}
    viewer = {"Authorization": f"Bearer {api_server.token('viewer')}"}

    assert requests.get(connections, headers=admin, timeout=10).status_code == 200
    assert requests.get(url, headers=admin, timeout=10).json()["limits"]["client_id"] == CLIENT_ID
    assert requests.get(connections, headers=viewer, timeout=10).status_code == 403
    seen_by_viewer = requests.get(url, headers=viewer, timeout=10)
    assert seen_by_viewer.status_code == 200
    assert seen_by_viewer.json()["limits"]["client_id"] is None
    assert CLIENT_ID not in seen_by_viewer.text


def test_failed_runs_come_from_airflows_api_with_the_viewers_token(
    api_server: ApiServer, failed_publish_run: str
) -> None:
    url = f"{api_server.base_url}{DASHBOARD}/api/failed_runs"

    assert requests.get(url, timeout=10).status_code == 401
    panel = requests.get(url, headers={"Authorization": f"Bearer {api_server.token('viewer')}"}, timeout=30).json()

    assert panel["status"] == "ok", panel
    run = next(r for r in panel["runs"] if r["run_id"] == failed_publish_run)
    assert run["dag_id"] == "symphonics_publish"
    assert run["logical_date"] is None
    assert [task["task_id"] for task in run["failed_tasks"]] == ["choose_path"]  # the first task refuses it
    assert run["failed_tasks"][0]["try_number"] == 1


def test_plugin_is_listed_with_its_external_view(api_server: ApiServer) -> None:
    response = requests.get(
        f"{api_server.base_url}/api/v2/plugins",
        headers={"Authorization": f"Bearer {api_server.token()}"},
        timeout=10,
    )

    plugin = next(p for p in response.json()["plugins"] if p["name"] == "symphonics_dashboard")
    assert plugin["external_views"][0]["url_route"] == "symphonics-dashboard"
    assert plugin["fastapi_apps"][0]["url_prefix"] == DASHBOARD


#: Every text box of the dashboard whose content must fit (HTML), and the SVG checks: each text inside its chart,
#: no two texts overlapping, no text over a bar. Returns the problems found, as strings.
OVERFLOW_SCRIPT = """
const problems = [];
const describe = (node) => `${node.tagName.toLowerCase()} "${(node.textContent || "").trim().slice(0, 40)}"`;
for (const node of document.querySelectorAll(
    "h1, h2, p, th, td, button, .kpi .value, .kpi .label, .legend span, .table-wrap, .pill")) {
  if (node.scrollWidth > node.clientWidth + 1) {
    problems.push(`${describe(node)}: scrollWidth ${node.scrollWidth} > clientWidth ${node.clientWidth}`);
  }
}
const overlap = (a, b) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > 0.5 &&
                         Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 0.5;
for (const chart of document.querySelectorAll("svg")) {
  const box = chart.getBoundingClientRect();
  const texts = [...chart.querySelectorAll("text")].filter((t) => t.textContent)
      .map((t) => ({ node: t, rect: t.getBoundingClientRect() }));
  const bars = [...chart.querySelectorAll("rect:not(.cap)")].map((r) => r.getBoundingClientRect())
      .filter((r) => r.width > 0 && r.height > 0);
  if (bars.some((r) => r.left < box.left - 0.5 || r.right > box.right + 0.5)) {
    problems.push(`a bar of chart "${chart.getAttribute("aria-label")}" is outside its chart`);
  }
  texts.forEach((a, i) => {
    const r = a.rect;
    if (r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5) {
      problems.push(`${describe(a.node)} is clipped by its chart`);
    }
    texts.slice(i + 1).forEach((b) => {
      if (overlap(r, b.rect)) problems.push(`${describe(a.node)} overlaps ${describe(b.node)}`);
    });
    if (bars.some((bar) => overlap(r, bar))) problems.push(`${describe(a.node)} overlaps a bar`);
  });
}
return problems;
"""

#: The sidebar entry of the dashboard: its label must fit its box.
NAV_LABEL_SCRIPT = """
const link = [...document.querySelectorAll("a, button")].find((node) =>
    (node.getAttribute("href") || "").endsWith("/plugin/symphonics-dashboard") ||
    (node.textContent || "").trim().startsWith("Symphonics"));
if (!link) return ["no sidebar entry for the dashboard"];
const problems = [];
for (const node of [link, ...link.querySelectorAll("*")]) {
  if (node.scrollWidth > node.clientWidth + 1 && (node.textContent || "").trim()) {
    problems.push(`sidebar "${node.textContent.trim()}": ${node.scrollWidth} px in ${node.clientWidth} px`);
  }
}
return problems;
"""


@pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason="needs Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver)",
)
@pytest.mark.parametrize("width", [1280, 1920])
def test_dashboard_renders_inside_the_ui_after_a_real_login(
    api_server: ApiServer, failed_publish_run: str, tmp_path: Path, width: int
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    driver = chrome(tmp_path, width, 2600)
    try:
        wait = WebDriverWait(driver, 30)
        log_in(driver, api_server.base_url, api_server.password)

        driver.get(f"{api_server.base_url}/plugin/symphonics-dashboard")
        frame = wait.until(expected_conditions.presence_of_element_located((By.TAG_NAME, "iframe")))
        assert (frame.get_attribute("src") or "").endswith(f"{DASHBOARD}/")
        problems = driver.execute_script(NAV_LABEL_SCRIPT)
        assert problems == [], "\n".join(problems)
        driver.switch_to.frame(frame)
        wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") == "true")

        def kpi(name: str) -> str:
            return str(driver.find_element(By.CSS_SELECTOR, f'[data-kpi="{name}"] .value').text)

        assert kpi("quota.day_used") == "33 / 5,000"  # every client id (issue 25)
        assert kpi("quota.publish") == "27"
        assert kpi("backlog.backlog") == "12"
        assert kpi("ops_queue.conflict_unresolved") == "2"
        assert kpi("webhooks.accepted") == "6"
        assert kpi("webhooks.refused") == "4"
        assert driver.find_element(By.CSS_SELECTOR, '[data-kpi="breaker.state"]').text.lower() == "closed"
        assert kpi("freshness.p95") == "11.6 s"
        # The alerts: the open episode first, the resolved one with both its times, where each notice went.
        assert (kpi("alerts.open"), kpi("alerts.open_critical"), kpi("alerts.raised")) == ("1", "1", "3")
        alert_rows = driver.execute_script(
            "return [...document.querySelectorAll('#panel-alerts tbody tr')]"
            ".map((tr) => [...tr.children].map((td) => td.textContent))"
        )
        assert [row[:3] for row in alert_rows] == [
            ["open", "critical", "partner_unavailable"],
            ["raised", "critical", "failed_run"],
            ["resolved", "warning", "dead_letter_added"],
        ]
        assert alert_rows[0][5] == "open"
        assert alert_rows[0][6] == "symphonics_alerts"
        assert alert_rows[2][4].endswith(" UTC")
        assert alert_rows[2][5].endswith(" UTC")
        assert alert_rows[1][6] == "table and log"
        freshness = driver.find_element(By.ID, "panel-freshness").text
        assert "symphonics_completions" in freshness
        # Months-old completions published 30 min ago are a backlog, not latency: left out, and said so.
        assert kpi("freshness.publishes") == "3"
        assert "an older completion published now is a backlog" in freshness
        # A run id as long as Airflow's takes two lines of its cell, its kill-switch note a third (seven before).
        lines = driver.execute_script(
            "const cell = [...document.querySelectorAll('#panel-runs tbody td:first-child')]"
            f".find((c) => c.textContent.startsWith('{LONG_RUN_ID}'));"
            "const style = getComputedStyle(cell);"
            "return (cell.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom))"
            " / parseFloat(style.lineHeight);"
        )
        assert 1 <= round(lines) <= 3, lines
        statuses = {
            card.get_attribute("id"): card.get_attribute("data-status")
            for card in driver.find_elements(By.CSS_SELECTOR, "section.card")
        }
        assert set(statuses.values()) == {"ok"}, statuses
        assert len(driver.find_elements(By.CSS_SELECTOR, "section.card svg")) >= 6
        rejections = driver.find_element(By.ID, "panel-rejections").text
        assert "invalid_email" in rejections
        assert "partner_refused" in rejections
        # The refusals as analytics.rejections counts them (the seeded ledger's 3 rejected_validation rows, and the
        # file the partner rejected), each named in the singular or plural it needs.
        assert "4 refusals in the last 7 days: 1 file, 3 partner validation (analytics.rejections)" in rejections
        # A long reason is cut with an ellipsis, its full text in a tooltip; a rejected file is counted as one.
        long_reason = driver.execute_script(
            "const g = [...document.querySelectorAll('#panel-rejections g.bar-row')]"
            ".find((row) => row.querySelector('title').textContent.startsWith('Dossier'));"
            "return g && [g.querySelector('title').textContent, g.querySelector('text').textContent,"
            " g.nextElementSibling.nextElementSibling.textContent.trim()];"
        )
        assert long_reason is not None
        assert long_reason[0] == LONG_PARTNER_REASON
        assert long_reason[1].endswith("…")
        assert LONG_PARTNER_REASON.startswith(long_reason[1][:-1])
        assert long_reason[2] == "1 (1 rejected file)"
        # Bars after the label column: each visible (several pixels wide) and inside its chart.
        widths = driver.execute_script(
            "return [...document.querySelectorAll('#panel-rejections svg rect')]"
            ".map((r) => r.getBoundingClientRect().width)"
        )
        assert len(widths) == 4, widths
        assert min(widths) >= 5, widths
        # The admin may read connections: the client id is on the page.
        assert CLIENT_ID in driver.find_element(By.ID, "limits-source").text
        # The ETA's basis is the last finished run that settled rows, shares are explained as ceilings.
        backlog = driver.find_element(By.ID, "panel-backlog").text
        assert "ETA basis: 3.00 requests per row: the last finished publish run (manual__b)" in backlog
        assert "A share is a ceiling" in driver.find_element(By.CSS_SELECTOR, '[data-explain="shares"]').text
        # Integer ticks on the count charts.
        ticks = driver.execute_script(
            "return [...document.querySelectorAll('#panel-runs svg text[text-anchor=end]')].map((t) => t.textContent)"
        )
        assert ticks
        assert all(tick.replace(",", "").isdigit() for tick in ticks), ticks
        assert len(set(ticks)) == len(ticks), ticks
        # Runs by kind, filtered.
        driver.find_element(By.CSS_SELECTOR, '#panel-runs .filter[data-kind="dry_run"]').click()
        # The panel is redrawn: read it by script, never through an element found before the click.
        pressed = "return document.querySelector('#panel-runs .filter[aria-pressed=true]')?.dataset.kind"
        wait.until(lambda d: d.execute_script(pressed) == "dry_run")
        listed = "return [...document.querySelectorAll('#panel-runs tbody td:first-child')].map((c) => c.innerText)"
        assert driver.execute_script(listed) == ["manual__dry"]
        # The failed run, with its failing task.
        failed = driver.find_element(By.ID, "panel-failed_runs").text
        assert failed_publish_run in failed
        assert "choose_path" in failed  # the run's first task refuses a bad param

        problems = driver.execute_script(OVERFLOW_SCRIPT)
        assert problems == [], "\n".join(problems)

        driver.switch_to.default_content()
        # The iframe's own height is the UI's; the screenshot shows the page as an operator sees it.
        time.sleep(0.5)
        target = screenshot_path(tmp_path, width)
        assert driver.save_screenshot(str(target))
        assert target.stat().st_size > 10_000
    finally:
        driver.quit()


#: Lines a cell's text takes (its height over its line height).
LINES_SCRIPT = """
return [...document.querySelectorAll(arguments[0])].map((cell) => {
  const style = getComputedStyle(cell);
  return Math.round((cell.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom))
                    / parseFloat(style.lineHeight));
});
"""


@pytest.fixture
def newcomer_walk_rows(api_server: ApiServer, sync_dsn: str) -> Iterator[str]:
    """What issue 25's walk met, added to the seeded rows for one test and taken away after: a refusal by our own
    confidence threshold, and a backfill of 25 runs that settled nothing (newer than every seeded run).

    :return: the external id of the published row the partner rejected (seeded).
    """
    import psycopg

    now = datetime.now(UTC).replace(microsecond=0)
    with psycopg.connect(sync_dsn) as conn:
        conn.execute(
            "INSERT INTO symphonics.interventions_ledger (external_id, app_intervention_id, app_status,"
            " app_updated_at, source, source_fingerprint, state, state_reason, state_detail, state_changed_at)"
            " VALUES ('int_low_confidence', 999, 'completed', %(at)s, '{}', 'fp', 'rejected_validation',"
            " 'pdl_lookup_low_confidence', 'lookup confidence 0.41', %(at)s)",
            {"at": now - timedelta(minutes=5)},
        )
        backfill = [f"backfill__2026-12-{day + 1:02d}T00:00:00+00:00" for day in range(25)]
        for minutes_ago, run_id in zip(range(30, 5, -1), backfill, strict=True):
            started = now - timedelta(minutes=minutes_ago)
            conn.execute(
                "INSERT INTO symphonics.publish_runs (dag_id, run_id, run_type, started_at, finished_at)"
                " VALUES ('symphonics_publish', %s, 'backfill', %s, %s)",
                (run_id, started, started + timedelta(seconds=7)),
            )
        rejected = conn.execute(
            "SELECT external_id FROM symphonics.status_history WHERE source = 'webhook' AND to_status = 'rejected'"
            " ORDER BY id LIMIT 1"
        ).fetchone()
    assert rejected is not None
    try:
        yield str(rejected[0])
    finally:
        with psycopg.connect(sync_dsn) as conn:
            conn.execute("DELETE FROM symphonics.interventions_ledger WHERE external_id = 'int_low_confidence'")
            conn.execute("DELETE FROM symphonics.publish_runs WHERE run_id = ANY(%s)", (backfill,))


@pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason="needs Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver)",
)
def test_the_walks_dashboard_defects_are_gone(api_server: ApiServer, newcomer_walk_rows: str, tmp_path: Path) -> None:
    """Issue 25, point 9: our threshold is ours, a partner-rejected row's headline says so, an empty dry run is an
    empty state (200, no 404), ids do not wrap, wide cards use the width, the runs chart survives a quiet backfill."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    rejected_row = newcomer_walk_rows
    driver = chrome(tmp_path, 1280, 2600)
    try:
        wait = WebDriverWait(driver, 30)
        log_in(driver, api_server.base_url, api_server.password)
        driver.get(f"{api_server.base_url}/plugin/symphonics-dashboard")
        frame = wait.until(expected_conditions.presence_of_element_located((By.TAG_NAME, "iframe")))
        driver.switch_to.frame(frame)
        wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") == "true")

        # Our own confidence threshold is labelled ours, never the partner's.
        notes = driver.execute_script(
            "return [...document.querySelectorAll('#panel-rejections g.bar-row')].map((g) =>"
            " [g.querySelector('title').textContent, g.nextElementSibling.nextElementSibling.textContent.trim()])"
        )
        assert ["pdl_lookup_low_confidence", "1 (1 our threshold)"] in notes, notes

        # The latest dry run (manual__dry) planned nothing: an empty state, and the API answered 200.
        empty = wait.until(expected_conditions.presence_of_element_located((By.ID, "dry-run-empty")))
        assert "manual__dry" in empty.text
        assert "planned nothing" in empty.text
        statuses = driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "fetch('api/dry_run', {credentials: 'same-origin'}).then((r) => done([r.status]));"
        )
        assert statuses == [200]

        # The runs chart after a backfill of 25 runs that settled nothing: the seeded runs' bars are still drawn.
        bars = driver.execute_script("return document.querySelectorAll('#panel-runs svg rect').length")
        assert bars >= 3
        left_out = driver.find_element(By.ID, "runs-chart-left-out").text
        assert int(left_out.split(" ", 1)[0]) >= 25, left_out  # the backfill's, and the seeded dry run
        assert "listed runs settled nothing and are not charted" in left_out

        # Ids and run ids on one line each.
        assert set(driver.execute_script(LINES_SCRIPT, "#panel-runs tbody td:first-child")) == {1}
        assert set(driver.execute_script(LINES_SCRIPT, "#panel-ops_queue tbody td:first-child")) == {1}

        # Wide cards take the grid's whole width; the small ones share rows with no hole left of a wide one.
        edges = driver.execute_script(
            "const grid = document.querySelector('main.grid').getBoundingClientRect();"
            "return [...document.querySelectorAll('section.card.wide')].map((c) => {"
            " const r = c.getBoundingClientRect(); return [r.left - grid.left, grid.right - r.right]; });"
        )
        assert edges
        assert all(abs(left) <= 1 and abs(right) <= 1 for left, right in edges), edges

        # A published row whose file the partner rejected: the headline says rejected, not published.
        driver.find_element(By.ID, "story-key").send_keys(rejected_row)
        driver.find_element(By.CSS_SELECTOR, "#story-search button[type=submit]").click()
        title = wait.until(expected_conditions.presence_of_element_located((By.ID, "story-title")))
        assert "now rejected by the partner" in title.text
        assert "ledger: published" in title.text

        problems = driver.execute_script(OVERFLOW_SCRIPT)
        assert problems == [], "\n".join(problems)
        driver.switch_to.default_content()
        time.sleep(0.5)
        # Kept where a person can look at it: SYMPHONICS_SCREENSHOT_DIR, else the test's temporary folder.
        target = Path(os.environ.get("SYMPHONICS_SCREENSHOT_DIR", tmp_path)) / "dashboard-walk-1280.png"
        assert driver.save_screenshot(str(target))
    finally:
        driver.quit()
