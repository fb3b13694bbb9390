"""The watchdog's outage and backlog episodes (issue 23), under the pipeline's role, delivered through an ``apprise``
connection to a JSON listener on 127.0.0.1: ``partner_unavailable`` from the calls recorded in
``symphonics.api_calls``, ``dead_letter_added`` from the ledger's history, ``document_rejected_waiting`` from the
document verifications; each raised once per episode (a repeated or retried check sends nothing again) and closed
with one "resolved" notice when it ends."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from include.symphonics import watchdog
from include.symphonics.db import roles
from tests.fixtures.listener import LocalChannel, serve_listener
from tests.fixtures.roles import login_in
from tests.fixtures.stack import TestStack
from tests.publish.conftest import clean_pipeline_tables
from tests.reconcile.conftest import clean_reconcile_tables

pytestmark = pytest.mark.integration

ALERT_CONN_ID = "symphonics_alerts_watchdog_test"


@pytest.fixture
def listener() -> Iterator[LocalChannel]:
    yield from serve_listener(200)


@pytest.fixture
def watched(sync_dsn: str, stack: TestStack, listener: LocalChannel, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Empty tables; ``sync_db`` as a login of the pipeline's role; alerts to the listener. Yields the owner's DSN."""
    clean_pipeline_tables(sync_dsn)
    clean_reconcile_tables(sync_dsn)
    for name in (
        "SYMPHONICS_PARTNER_DOWN_AFTER_MINUTES",
        "SYMPHONICS_DEAD_LETTER_ALERT_THRESHOLD",
        "SYMPHONICS_DOCUMENT_REJECTED_ALERT_DAYS",
    ):
        monkeypatch.delenv(name, raising=False)
    apprise = {"conn_type": "apprise", "extra": {"config": {"path": f"json://127.0.0.1:{listener.port}/ops"}}}
    monkeypatch.setenv(f"AIRFLOW_CONN_{ALERT_CONN_ID.upper()}", json.dumps(apprise))
    monkeypatch.setenv("SYMPHONICS_ALERT_CONN_ID", ALERT_CONN_ID)
    database = psycopg.conninfo.conninfo_to_dict(sync_dsn)["dbname"]
    admin = urlsplit(stack.server.admin_url)
    with login_in(stack.server, roles.PIPELINE_ROLE) as (login, password):
        conn = {"conn_type": "postgres", "host": stack.server.socket_dir, "port": admin.port, "schema": database}
        monkeypatch.setenv("AIRFLOW_CONN_SYNC_DB", json.dumps({**conn, "login": login, "password": password}))
        yield sync_dsn


def _notices(listener: LocalChannel) -> list[str]:
    """The titles the listener got so far."""
    titles = []
    while not listener.received.empty():
        path, _, body = listener.received.get_nowait()
        assert path == "/ops"
        titles.append(body["title"])
    return titles


def _alerts(dsn: str, kind: str) -> list[dict[str, Any]]:
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        return conn.execute("SELECT * FROM symphonics.alerts WHERE kind = %s ORDER BY id", (kind,)).fetchall()


def _ledger_row(dsn: str, external_id: str, state: str = "ready", reason: str | None = None) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO symphonics.interventions_ledger (external_id, app_intervention_id, app_status, "
            "app_updated_at, source, source_fingerprint, state, state_reason, symphonics_id) "
            "VALUES (%s, 1, 'completed', now(), %s, 'fp', %s, %s, %s)",
            (external_id, Jsonb({}), state, reason, f"sym-{external_id}" if state == "published" else None),
        )


def _move(dsn: str, external_id: str, state: str, reason: str | None) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "UPDATE symphonics.interventions_ledger SET state = %s, state_reason = %s WHERE external_id = %s",
            (state, reason, external_id),
        )


def _call(dsn: str, at: datetime, status: int | None, error_code: str | None = None) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO symphonics.api_calls (called_at, client_id, priority_class, operation, method, path, "
            "status, error_code, latency_ms, attempt) VALUES (%s, 'c', 'publish', 'create', 'POST', "
            "'/api/v1/interventions', %s, %s, 10, 1)",
            (at, status, error_code),
        )


def test_partner_unavailable_is_raised_once_after_the_delay_and_resolved_when_it_answers(
    watched: str, listener: LocalChannel, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.now(UTC)
    _ledger_row(watched, "WAIT-1")  # a row waits
    _call(watched, now - timedelta(minutes=40), 201)
    _call(watched, now - timedelta(minutes=20), None, "ReadTimeout")
    _call(watched, now - timedelta(minutes=12), 503, "SERVICE_UNAVAILABLE")
    _call(watched, now - timedelta(minutes=2), None, "ConnectError")

    monkeypatch.setenv("SYMPHONICS_PARTNER_DOWN_AFTER_MINUTES", "30")
    assert watchdog.check_partner(now) == []  # failing for 20 min only
    monkeypatch.setenv("SYMPHONICS_PARTNER_DOWN_AFTER_MINUTES", "15")
    [alert] = watchdog.check_partner(now)
    assert alert.kind == "partner_unavailable"
    assert alert.details["failures"] == 3
    assert alert.details["backlog"] == 1
    assert watchdog.check_partner(now + timedelta(minutes=10)) == []  # the same episode: nothing again
    assert _notices(listener) == ["[critical] partner_unavailable"]
    [row] = _alerts(watched, "partner_unavailable")
    assert row["episodic"]
    assert row["resolved_at"] is None
    assert row["notified_via"] == ["table", "log", ALERT_CONN_ID]

    _call(watched, now + timedelta(minutes=11), 429, "RATE_LIMITED")  # an answer, even a refusal: it is up
    assert watchdog.check_partner(now + timedelta(minutes=12)) == []
    assert watchdog.check_partner(now + timedelta(minutes=13)) == []  # closed once
    assert _notices(listener) == ["[resolved] partner_unavailable"]
    [row] = _alerts(watched, "partner_unavailable")
    assert row["resolved_at"] is not None
    assert row["resolve_notified_via"] == [ALERT_CONN_ID]


def test_partner_unavailable_at_once_with_zero_minutes_and_from_runs_stopped_unavailable(
    watched: str, listener: LocalChannel, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.now(UTC)
    _ledger_row(watched, "WAIT-2")
    _call(watched, now - timedelta(hours=1), 200)
    with psycopg.connect(watched) as conn:  # the breaker was open: the run sent nothing and stopped
        conn.execute(
            "INSERT INTO symphonics.publish_runs (dag_id, run_id, started_at, finished_at, detail) "
            "VALUES ('symphonics_publish', 'r1', %s, %s, %s)",
            (now - timedelta(minutes=1), now, Jsonb({"stopped": "unavailable"})),
        )
    monkeypatch.setenv("SYMPHONICS_PARTNER_DOWN_AFTER_MINUTES", "0")
    assert [alert.kind for alert in watchdog.check_partner(now)] == ["partner_unavailable"]
    assert _notices(listener) == ["[critical] partner_unavailable"]


def test_no_alert_while_nothing_waits(watched: str, listener: LocalChannel, monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime.now(UTC)
    _call(watched, now - timedelta(hours=2), None, "ConnectError")
    monkeypatch.setenv("SYMPHONICS_PARTNER_DOWN_AFTER_MINUTES", "0")
    assert watchdog.check_partner(now) == []
    assert _notices(listener) == []


def test_dead_letter_added_once_per_episode_closed_when_ops_settle_the_rows(
    watched: str, listener: LocalChannel, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.now(UTC)
    _ledger_row(watched, "OLD-DL", "dead_letter", "too_many_attempts")  # before the watchdog ever ran
    assert watchdog.check_dead_letters(now) == []  # the first check sets its mark only
    for external_id in ("DL-1", "DL-2"):
        _ledger_row(watched, external_id)
    _move(watched, "DL-1", "dead_letter", "too_many_attempts")
    monkeypatch.setenv("SYMPHONICS_DEAD_LETTER_ALERT_THRESHOLD", "2")
    assert watchdog.check_dead_letters(now + timedelta(minutes=10)) == []  # one, under the threshold of 2

    monkeypatch.setenv("SYMPHONICS_DEAD_LETTER_ALERT_THRESHOLD", "1")
    _move(watched, "DL-2", "dead_letter", "partner_refused")
    [alert] = watchdog.check_dead_letters(now + timedelta(minutes=20))
    assert alert.details["added"] == 1  # DL-1 was counted (under the threshold) by the check before
    assert alert.details["reasons"] == {"partner_refused": 1}
    _ledger_row(watched, "DL-3")
    _move(watched, "DL-3", "dead_letter", "too_many_attempts")
    assert watchdog.check_dead_letters(now + timedelta(minutes=30)) == []  # the same episode
    assert _notices(listener) == ["[warning] dead_letter_added"]

    _move(watched, "DL-2", "ready", None)  # ops requeue one; DL-3 still waits
    assert watchdog.check_dead_letters(now + timedelta(minutes=40)) == []
    assert _notices(listener) == []
    _move(watched, "DL-3", "ready", None)
    assert watchdog.check_dead_letters(now + timedelta(minutes=50)) == []
    assert _notices(listener) == ["[resolved] dead_letter_added"]
    [row] = _alerts(watched, "dead_letter_added")
    assert row["resolved_at"] is not None


def _verification(dsn: str, external_id: str, status: str, at: datetime) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO symphonics.status_history (external_id, event_kind, document_type, to_status, source, "
            "occurred_at) VALUES (%s, 'document', 'attestation', %s, 'webhook', %s)",
            (external_id, status, at),
        )


def test_a_rejected_document_without_a_new_one_after_d_days_alerts_until_a_patch_sends_one(
    watched: str, listener: LocalChannel, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.now(UTC)
    _ledger_row(watched, "DOC-1", "published")
    _ledger_row(watched, "DOC-2", "published")
    _verification(watched, "DOC-1", "rejected", now - timedelta(days=3))
    _verification(watched, "DOC-2", "rejected", now - timedelta(days=1))  # not yet D = 2 days

    [alert] = watchdog.check_rejected_documents(now)
    assert alert.details["external_ids"] == ["DOC-1"]
    assert alert.details["after_days"] == 2
    assert watchdog.check_rejected_documents(now) == []
    assert _notices(listener) == ["[warning] document_rejected_waiting"]

    with psycopg.connect(watched) as conn:  # the PATCH with a new document went out
        conn.execute("UPDATE symphonics.interventions_ledger SET patched_at = now() WHERE external_id = 'DOC-1'")
    assert watchdog.check_rejected_documents(now) == []
    assert _notices(listener) == ["[resolved] document_rejected_waiting"]
    monkeypatch.setenv("SYMPHONICS_DOCUMENT_REJECTED_ALERT_DAYS", "1")
    [again] = watchdog.check_rejected_documents(now)  # a new episode: DOC-2 now waits too long
    assert again.details["external_ids"] == ["DOC-2"]
    assert len(_alerts(watched, "document_rejected_waiting")) == 2


def test_settings_refuse_bad_values(monkeypatch: pytest.MonkeyPatch) -> None:
    assert watchdog.partner_down_after() == timedelta(minutes=15)
    assert watchdog.dead_letter_alert_threshold() == 1
    assert watchdog.document_rejected_alert_after() == timedelta(days=2)
    monkeypatch.setenv("SYMPHONICS_PARTNER_DOWN_AFTER_MINUTES", "0")
    assert watchdog.partner_down_after() == timedelta(0)
    monkeypatch.setenv("SYMPHONICS_DEAD_LETTER_ALERT_THRESHOLD", "0")
    with pytest.raises(ValueError, match="SYMPHONICS_DEAD_LETTER_ALERT_THRESHOLD must be at least 1 rows"):
        watchdog.dead_letter_alert_threshold()
    monkeypatch.setenv("SYMPHONICS_DOCUMENT_REJECTED_ALERT_DAYS", "two")
    with pytest.raises(ValueError, match="SYMPHONICS_DOCUMENT_REJECTED_ALERT_DAYS"):
        watchdog.document_rejected_alert_after()


def test_a_retried_watchdog_task_sends_its_alert_once(
    watched: str, listener: LocalChannel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real retry under ``dag.test()``: ``check_dead_letters`` raises its alert, then fails before it moves its
    mark; Airflow retries it, the retry sees the same rows, finds the episode open and sends nothing."""
    from airflow.dag_processing.dagbag import DagBag

    from tests.dags.test_dag_integrity import DAGS_DIR

    assert watchdog.check_dead_letters(datetime.now(UTC)) == []  # the first check sets its mark
    _ledger_row(watched, "DL-R")
    _move(watched, "DL-R", "dead_letter", "too_many_attempts")
    real_mark = watchdog._mark
    failures = []

    def mark_failing_once(conn: Any, check_name: str, now: datetime, mark: int = 0) -> datetime:
        if check_name == "dead_letter_added" and not failures:
            failures.append(check_name)
            raise psycopg.OperationalError("the connection was lost (planted by the test)")
        return real_mark(conn, check_name, now, mark)

    monkeypatch.setattr(watchdog, "_mark", mark_failing_once)
    dag = DagBag(dag_folder=str(DAGS_DIR / "symphonics_watchdog.py")).dags["symphonics_watchdog"]
    run = dag.test()

    tries = {ti.task_id: (ti.state, ti.try_number) for ti in run.get_task_instances()}
    assert run.state == "success", tries
    assert tries["check_dead_letters"] == ("success", 2)
    assert failures == ["dead_letter_added"]
    assert _notices(listener) == ["[warning] dead_letter_added"]
    assert len(_alerts(watched, "dead_letter_added")) == 1
