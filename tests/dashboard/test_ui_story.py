"""End to end in headless Chromium: a real login, the dashboard's search, a row's timeline (migration 0011's
history, the partner calls, webhooks, polls), personal data masked. The screenshot of the timeline goes to the test's
temporary folder, or to ``docs/dashboard-timeline.png`` with ``SYMPHONICS_WRITE_SCREENSHOT=1``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from include.symphonics.db.history import set_run
from include.symphonics_devstack import localpg
from tests.fixtures.airflow_ui import (
    CHROMEDRIVER,
    CHROMIUM,
    DASHBOARD,
    AirflowUi,
    ApiServer,
    chrome,
    empty_sync_tables,
    log_in_as,
)
from tests.fixtures.airflow_ui import forget_run as _forget_run
from tests.fixtures.airflow_ui import publish_runs as _publish_runs

pytestmark = pytest.mark.integration

SCREENSHOT = localpg.PROJECT_ROOT / "docs" / "dashboard-timeline.png"
EXTERNAL_ID = "int_00004242"
SYMPHONICS_ID = "sym_77001122"
CREATE_REQUEST = "req_create_4242"
CONFLICT_REQUEST = "req_conflict_4242"
POLL_REQUEST = "req_poll_4242"
#: A partner note quoting the customer's e-mail: shown masked.
DEAD_ID = "int_00004343"
DRY_RUN = "manual__dry_story"
FAILING_RUN = "manual__story_3"
NOTE_WITH_EMAIL = "Attestation illisible, contacter jeanne.dupont@example.fr"


def _seed_story(url: str) -> None:
    """One intervention's life, as the pipeline writes it: extraction, rules, validation, a create lost in a crash,
    its 409, the webhook giving its id, a poll; older than a day, so no figure of today moves."""
    t0 = datetime.now(UTC) - timedelta(days=3)
    with psycopg.connect(url) as conn:
        set_run(conn, "manual__story_1")
        conn.execute(
            "INSERT INTO symphonics.interventions_ledger (external_id, app_intervention_id, app_status,"
            " app_updated_at, source, source_fingerprint, last_run_id, first_seen_at)"
            " VALUES (%s, 4242, 'completed', %s, '{}'::jsonb, 'src-fp-4242', 'manual__story_1', %s)",
            (EXTERNAL_ID, t0, t0),
        )
        steps: list[tuple[str, dict[str, Any]]] = [
            (
                "manual__story_1",
                {
                    "state": "ready",
                    "payload_fingerprint": "pl-fp-4242",
                    "prevalidated_at": t0,
                    "validated_at": t0 + timedelta(seconds=1),
                },
            ),
            ("manual__story_1", {"state": "sending", "attempts": 1, "last_sent_at": t0 + timedelta(seconds=2)}),
            (
                "manual__story_1",
                {
                    "state": "published",
                    "attempts": 0,
                    "symphonics_id": SYMPHONICS_ID,
                    "last_request_id": CREATE_REQUEST,
                    "published_at": t0 + timedelta(seconds=2),
                },
            ),
            # A crash of the next run's publisher after the create left, before its answer was recorded.
            ("manual__story_2", {"state": "sending", "attempts": 1, "symphonics_id": None}),
            ("manual__story_2", {"state": "sending", "attempts": 2}),
            (
                "manual__story_2",
                {
                    "state": "conflict_unresolved",
                    "state_reason": "conflict_id_unknown",
                    "last_request_id": CONFLICT_REQUEST,
                    "attempts": 0,
                },
            ),
            ("scheduled__reconcile", {"state": "published", "state_reason": None, "symphonics_id": SYMPHONICS_ID}),
        ]
        for run_id, changes in steps:
            conn.commit()
            set_run(conn, run_id)
            assignments = ", ".join(f"{column} = %({column})s" for column in changes)
            conn.execute(
                f"UPDATE symphonics.interventions_ledger SET {assignments} WHERE external_id = %(external_id)s",  # noqa: S608 (test's own columns)
                {**changes, "external_id": EXTERNAL_ID},
            )
        calls = [
            (t0 + timedelta(seconds=2), "create_intervention", "POST", "/crm/interventions", 201, CREATE_REQUEST, 1),
            (
                t0 + timedelta(hours=1, seconds=1),
                "create_intervention",
                "POST",
                "/crm/interventions",
                409,
                CONFLICT_REQUEST,
                1,
            ),
            (
                t0 + timedelta(hours=5),
                "get_intervention",
                "GET",
                f"/crm/interventions/{SYMPHONICS_ID}",
                200,
                POLL_REQUEST,
                1,
            ),
        ]
        for called_at, operation, method, path, status, request_id, attempt in calls:
            conn.execute(
                "INSERT INTO symphonics.api_calls (called_at, client_id, priority_class, operation, method, path,"
                " status, latency_ms, attempt, request_id, token_request, run_id)"
                " VALUES (%s, 'wfa-story', %s, %s, %s, %s, %s, 84.5, %s, %s, false, %s)",
                (
                    called_at,
                    "reconcile" if operation == "get_intervention" else "publish",
                    operation,
                    method,
                    path,
                    status,
                    attempt,
                    request_id,
                    "scheduled__reconcile" if operation == "get_intervention" else "manual__story_1",
                ),
            )
        # The trigger stamped the changes with the seeding's clock: dated as the story's (by the owner, the
        # append-only guard lifted for it).
        offsets = [0, 1, 2, 2.5, 3600, 3601, 3601.5, 7260]
        conn.execute("ALTER TABLE symphonics.ledger_history DISABLE TRIGGER ledger_history_append_only")
        ids = [row[0] for row in conn.execute("SELECT id FROM symphonics.ledger_history ORDER BY id").fetchall()]
        assert len(ids) == len(offsets)
        for history_id, offset in zip(ids, offsets, strict=True):
            conn.execute(
                "UPDATE symphonics.ledger_history SET changed_at = %s WHERE id = %s",
                (t0 + timedelta(seconds=offset), history_id),
            )
        conn.execute("ALTER TABLE symphonics.ledger_history ENABLE TRIGGER ledger_history_append_only")
        # A dry run's stored result: one create, one refusal.
        conn.execute(
            "INSERT INTO symphonics.dry_run_results (run_id, external_id, action, state, reason, fields, calls)"
            " VALUES (%s, 'int_00004444', 'create', 'ready', NULL, '[\"customer\", \"documents\"]', 1),"
            " (%s, 'int_00004445', 'refuse', 'invalid', 'invalid_email', NULL, 0)",
            (DRY_RUN, DRY_RUN),
        )
        # Another row, dead lettered by a later run (the failed rows of a run).
        conn.commit()
        set_run(conn, FAILING_RUN)
        conn.execute(
            "INSERT INTO symphonics.interventions_ledger (external_id, app_intervention_id, app_status,"
            " app_updated_at, source, source_fingerprint, state, state_reason, state_detail, attempts,"
            " last_error_code, last_run_id) VALUES (%s, 4343, 'completed', %s, '{}'::jsonb, 'src-fp-4343',"
            " 'dead_letter', 'too_many_attempts', %s, 6, 'SERVICE_UNAVAILABLE', %s)",
            (DEAD_ID, t0, "6 attempts; installer jeanne.dupont@example.fr", FAILING_RUN),
        )
        for occurred_at, source, before, after, notes in (
            (t0 + timedelta(hours=2), "webhook", "created", "processing", None),
            (t0 + timedelta(hours=5), "poll", "processing", "rejected", NOTE_WITH_EMAIL),
        ):
            conn.execute(
                "INSERT INTO symphonics.status_history (external_id, symphonics_id, from_status, to_status, source,"
                " notes, occurred_at, run_id) VALUES (%s, %s, %s, %s, %s, %s, %s, 'scheduled__reconcile')",
                (EXTERNAL_ID, SYMPHONICS_ID, before, after, source, notes, occurred_at),
            )


@pytest.fixture(scope="module")
def story_server(airflow_ui: AirflowUi, sync_dsn: str) -> Iterator[ApiServer]:
    """The session's api-server, its dashboard reading a ``sync`` database holding one row's story (the session's,
    emptied before and after this module); the publish DAG is in Airflow's database (``failed_publish_run`` ran it),
    so it can be triggered."""
    empty_sync_tables(sync_dsn)
    _seed_story(sync_dsn)
    try:
        yield airflow_ui
    finally:
        empty_sync_tables(sync_dsn)


def test_check_again_shows_its_cost_and_triggers_as_the_viewer(story_server: ApiServer) -> None:
    url = f"{story_server.base_url}{DASHBOARD}/api/check_again"
    admin = {"Authorization": f"Bearer {story_server.token('admin')}"}
    viewer = {"Authorization": f"Bearer {story_server.token('viewer')}"}

    cost = requests.get(url, params={"external_id": [EXTERNAL_ID, DEAD_ID]}, headers=viewer, timeout=10).json()
    # No finished run to learn a cost per row from: 1 request a row, the rows named only; nothing sent today.
    assert (cost["known"], cost["calls"], cost["publish_left_today"]) == (2, 2, 3750)
    assert "backlog" not in cost
    assert cost["fits_today"] is True

    before = {run["dag_run_id"] for run in _publish_runs(story_server)}
    refused = requests.post(url, json={"external_ids": [DEAD_ID]}, headers=viewer, timeout=30)
    assert refused.status_code == 403
    assert refused.json()["airflow_status"] == 403
    assert {run["dag_run_id"] for run in _publish_runs(story_server)} == before
    as_form = requests.post(url, data={"external_ids": DEAD_ID}, headers=admin, timeout=30)
    assert as_form.status_code == 415

    started = requests.post(url, json={"external_ids": [DEAD_ID]}, headers=admin, timeout=30)
    assert started.status_code == 200, started.text
    run_id = started.json()["dag_run_id"]
    try:
        runs = {run["dag_run_id"]: run for run in _publish_runs(story_server)}
        assert set(runs) == before | {run_id}
        assert runs[run_id]["conf"] == {"external_ids": [DEAD_ID]}
    finally:
        _forget_run(story_server, run_id)


@pytest.mark.parametrize("key", [EXTERNAL_ID, SYMPHONICS_ID, CONFLICT_REQUEST, POLL_REQUEST, CREATE_REQUEST])
def test_search_needs_a_login_and_finds_the_row_by_each_key(story_server: ApiServer, key: str) -> None:
    url = f"{story_server.base_url}{DASHBOARD}/api/search"
    assert requests.get(url, params={"key": key}, timeout=10).status_code == 401
    found = requests.get(
        url, params={"key": key}, headers={"Authorization": f"Bearer {story_server.token('viewer')}"}, timeout=10
    )
    assert found.status_code == 200
    assert [row["external_id"] for row in found.json()["rows"]] == [EXTERNAL_ID]


@pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason="needs Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver)",
)
def test_a_rows_story_in_the_browser(story_server: ApiServer, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    driver = chrome(tmp_path, 1280, 1400)
    try:
        wait = WebDriverWait(driver, 30)
        log_in_as(driver, story_server.base_url, "admin", story_server.password)
        driver.get(f"{story_server.base_url}/plugin/symphonics-dashboard")
        frame = wait.until(expected_conditions.presence_of_element_located((By.TAG_NAME, "iframe")))
        driver.switch_to.frame(frame)
        wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") == "true")

        # The latest dry run, its cost under today's publish allowance (3,750 = 5,000 x 0.75, nothing sent today).
        wait.until(lambda d: d.find_elements(By.ID, "dry-run-title"))
        assert driver.find_element(By.ID, "dry-run-title").text.startswith(DRY_RUN)

        def kpi(name: str) -> str:
            return str(driver.find_element(By.CSS_SELECTOR, f'[data-kpi="{name}"] .value').text)

        assert (kpi("dry_run.create"), kpi("dry_run.refuse"), kpi("dry_run.calls")) == ("1", "1", "1")
        assert kpi("dry_run.left") == "3,750"
        assert "invalid_email" in driver.find_element(By.ID, "panel-dry_run").text
        assert driver.find_element(By.ID, "dry-run-csv").is_displayed()

        box = driver.find_element(By.ID, "story-key")
        box.send_keys("no-such-id")
        driver.find_element(By.CSS_SELECTOR, "#story-search button[type=submit]").click()
        wait.until(lambda d: d.find_elements(By.ID, "story-none"))

        box.clear()
        box.send_keys(POLL_REQUEST)  # the request id of a poll finds the row it was about
        driver.find_element(By.CSS_SELECTOR, "#story-search button[type=submit]").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#story-events li"))
        # Published, then rejected by the partner (the last poll): the headline says so (issue 25, point 9).
        assert (
            driver.find_element(By.ID, "story-title").text
            == f"{EXTERNAL_ID} — now rejected by the partner · {SYMPHONICS_ID} · ledger: published"
        )
        events = driver.execute_script(
            "return [...document.querySelectorAll('#story-events li')]"
            ".map((li) => [li.dataset.kind, li.querySelector('.title').textContent,"
            " li.querySelector('.detail').textContent])"
        )
        kinds = [kind for kind, _, _ in events]
        assert kinds[0] == "extracted"
        states = [title for kind, title, _ in events if kind == "state"]
        assert states == [
            "new → pending",
            "pending → ready",
            "ready → sending",
            "sending → published",
            "published → sending",
            "sending → sending",
            "sending → conflict_unresolved",
            "conflict_unresolved → published",
        ]
        calls = [(title, detail) for kind, title, detail in events if kind == "call"]
        assert [title for title, _ in calls] == [
            "create_intervention POST → 201",
            "create_intervention POST → 409",
            "get_intervention GET → 200",
        ]
        assert all("latency ms: 84.5" in detail and "attempt: 1" in detail for _, detail in calls)
        assert f"request id: {CONFLICT_REQUEST}" in calls[1][1]
        # The 409's state change names its run and its request; the webhook comes before the poll.
        conflict = next(detail for kind, title, detail in events if title == "sending → conflict_unresolved")
        assert "run id: manual__story_2" in conflict
        assert f"request id: {CONFLICT_REQUEST}" in conflict
        assert kinds.index("webhook") < kinds.index("poll")
        page = driver.find_element(By.ID, "panel-story").text
        assert "jeanne.dupont@example.fr" not in page
        assert "j***@example.fr" in page

        # The failed rows of a run, their CSV, and a row's story from there.
        driver.find_element(By.ID, "failures-run").send_keys(FAILING_RUN)
        driver.find_element(By.CSS_SELECTOR, "#failures-form button[type=submit]").click()
        wait.until(lambda d: d.find_elements(By.ID, "failures-summary"))
        assert driver.find_element(By.ID, "failures-summary").text == (
            "1 failed row: dead_letter: too_many_attempts (1)"
        )
        failures = driver.find_element(By.ID, "panel-run_failures").text
        assert DEAD_ID in failures
        assert "j***@example.fr" in failures
        assert "jeanne.dupont@example.fr" not in failures
        link = driver.find_element(By.ID, "failures-csv")
        assert link.is_displayed()
        exported = driver.execute_script(
            "return fetch(arguments[0], {credentials: 'same-origin'}).then((r) => r.text());",
            link.get_attribute("href"),
        )
        assert exported.splitlines()[0].startswith("external_id,ended_in,reason")
        assert exported.splitlines()[1].startswith(f"{DEAD_ID},dead_letter,too_many_attempts,SERVICE_UNAVAILABLE")
        driver.find_element(By.CSS_SELECTOR, "#failures-body td.link").click()
        wait.until(lambda d: d.find_element(By.ID, "story-title").text.startswith(DEAD_ID))
        driver.find_element(By.ID, "story-key").clear()
        driver.find_element(By.ID, "story-key").send_keys(POLL_REQUEST)
        driver.find_element(By.CSS_SELECTOR, "#story-search button[type=submit]").click()
        wait.until(lambda d: d.find_element(By.ID, "story-title").text.startswith(EXTERNAL_ID))
        driver.execute_script("window.scrollTo(0, 0)")

        # "Check again now" from the row: the cost first, then a run triggered as the admin.
        runs_before = {run["dag_run_id"] for run in _publish_runs(story_server)}
        driver.find_element(By.ID, "check-again-row").click()
        wait.until(lambda d: d.find_element(By.ID, "check-again-confirm").is_enabled())
        assert (kpi("check_again.calls"), kpi("check_again.left")) == ("1", "3,750")
        driver.find_element(By.ID, "check-again-confirm").click()
        wait.until(lambda d: d.find_element(By.ID, "check-again-result").is_displayed())
        result = driver.find_element(By.ID, "check-again-result").text
        new_runs = {run["dag_run_id"] for run in _publish_runs(story_server)} - runs_before
        try:
            assert len(new_runs) == 1, result
            assert result.startswith(f"Run {next(iter(new_runs))} of symphonics_publish triggered")
        finally:
            for run_id in new_runs:
                _forget_run(story_server, run_id)
        driver.find_element(By.ID, "check-again-close").click()

        driver.switch_to.default_content()
        time.sleep(0.5)
        target = (
            SCREENSHOT if os.environ.get("SYMPHONICS_WRITE_SCREENSHOT") == "1" else tmp_path / "dashboard-timeline.png"
        )
        assert driver.save_screenshot(str(target))
        assert target.stat().st_size > 10_000
    finally:
        driver.quit()


@pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason="needs Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver)",
)
def test_a_viewer_is_refused_check_again_and_nothing_starts(story_server: ApiServer, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    driver = chrome(tmp_path, 1280, 1400)
    try:
        wait = WebDriverWait(driver, 30)
        log_in_as(driver, story_server.base_url, "viewer", story_server.viewer_password)
        driver.get(f"{story_server.base_url}/plugin/symphonics-dashboard")
        frame = wait.until(expected_conditions.presence_of_element_located((By.TAG_NAME, "iframe")))
        driver.switch_to.frame(frame)
        wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") == "true")
        driver.find_element(By.ID, "failures-run").send_keys(FAILING_RUN)
        driver.find_element(By.CSS_SELECTOR, "#failures-form button[type=submit]").click()
        wait.until(lambda d: d.find_elements(By.ID, "check-again-failures"))
        runs_before = {run["dag_run_id"] for run in _publish_runs(story_server)}
        driver.find_element(By.ID, "check-again-failures").click()
        wait.until(lambda d: d.find_element(By.ID, "check-again-confirm").is_enabled())
        driver.find_element(By.ID, "check-again-confirm").click()
        wait.until(lambda d: d.find_element(By.ID, "check-again-result").is_displayed())
        result = driver.find_element(By.ID, "check-again-result").text
        assert result.startswith("Refused (403): Airflow does not let you trigger symphonics_publish")
        assert result.endswith("Nothing was started.")
        assert {run["dag_run_id"] for run in _publish_runs(story_server)} == runs_before
    finally:
        driver.quit()


#: Partner text with bidi controls: an override (U+202E) and an isolate left open (U+2067), each of which would
#: reverse the page's own text after it.
BIDI_ID = "int_00004545"
BIDI_NOTE = "Facture \u202egpj.exe\u202c jointe, voir \u2067client"


@pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason="needs Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver)",
)
def test_bidi_controls_in_partner_text_are_neutralised_in_the_timeline(
    story_server: ApiServer, sync_dsn: str, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    url = sync_dsn
    occurred = datetime.now(UTC) - timedelta(days=3)
    with psycopg.connect(url) as conn:  # arranged as the owner, after the other tests read their figures
        conn.execute(
            "INSERT INTO symphonics.interventions_ledger (external_id, app_intervention_id, app_status,"
            " app_updated_at, source, source_fingerprint, state, attempts, state_changed_at)"
            " VALUES (%s, 4545, 'completed', %s, '{}'::jsonb, 'fp', 'pending', 0, %s)",
            (BIDI_ID, occurred, occurred),
        )
        conn.execute(
            "INSERT INTO symphonics.status_history (external_id, symphonics_id, from_status, to_status, source,"
            " notes, occurred_at) VALUES (%s, 'sym_4545', 'submitted', 'rejected', 'webhook', %s, %s)",
            (BIDI_ID, BIDI_NOTE, occurred),
        )
    driver = chrome(tmp_path, 1280, 1400)
    try:
        wait = WebDriverWait(driver, 30)
        log_in_as(driver, story_server.base_url, "admin", story_server.password)
        driver.get(f"{story_server.base_url}/plugin/symphonics-dashboard")
        frame = wait.until(expected_conditions.presence_of_element_located((By.TAG_NAME, "iframe")))
        driver.switch_to.frame(frame)
        wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-loaded") == "true")
        driver.find_element(By.ID, "story-key").send_keys(BIDI_ID)
        driver.find_element(By.CSS_SELECTOR, "#story-search button[type=submit]").click()
        wait.until(lambda d: d.find_element(By.ID, "story-title").text.startswith(BIDI_ID))

        shown = str(driver.execute_script("return document.getElementById('story-events').textContent;"))
    finally:
        driver.quit()

    assert "gpj.exe" in shown
    assert not [
        char for char in shown if char in "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    ]
    assert "\ufffdgpj.exe\ufffd" in shown
