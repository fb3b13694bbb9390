"""The alert rules not covered by the DAG tests, and the notifier's delivery through Apprise.

Each rule is driven by rows planted in the test sync database (webhook traffic through the real receiver, in
process) and evaluated directly (``rules.evaluate``), or through the ``evaluate_alerts`` task body with a stand-in
task instance: it raises its alert exactly once per run and stays silent at or below its threshold. The notices go
through an ``apprise`` connection whose target is a JSON webhook (``json://``) on a tiny HTTP receiver on 127.0.0.1:
each alert arrives once, a retried task sends nothing again, and an unreachable channel loses no alert row."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.rows import dict_row

from include.symphonics.alerts import Alert
from include.symphonics.reconcile.rules import RunFacts, evaluate
from include.symphonics.reconcile.settings import ReconcileSettings
from tests.fixtures.listener import LocalChannel, serve_listener
from tests.publish.conftest import clean_pipeline_tables
from tests.reconcile.conftest import clean_reconcile_tables

SETTINGS = ReconcileSettings()  # the documented defaults: share 0.25 of >= 20 decided, 10 signatures, 5 % late
SNAPSHOT_DATE = date(2026, 3, 2)
SECRET = "alert-rules-test-secret"
ALERT_CONN_ID = "symphonics_alerts_test"


@pytest.fixture
def alert_db(sync_dsn: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The test sync database with empty publish, webhook and reconciliation tables; thresholds at their defaults."""
    for name in (
        "SYMPHONICS_ALERT_WINDOW_HOURS",
        "SYMPHONICS_ALERT_REJECTED_SHARE",
        "SYMPHONICS_ALERT_REJECTED_MIN_DECIDED",
        "SYMPHONICS_ALERT_SIGNATURE_FAILURES",
        "SYMPHONICS_ALERT_LATE_SHARE",
        "SYMPHONICS_ALERT_CONN_ID",
    ):
        monkeypatch.delenv(name, raising=False)
    clean_pipeline_tables(sync_dsn)
    clean_reconcile_tables(sync_dsn)
    return sync_dsn


def _rows(dsn: str, query: str, *params: Any) -> list[dict[str, Any]]:
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        return conn.execute(query, params).fetchall()  # type: ignore[arg-type]


def _kinds(alerts: list[Alert]) -> list[str]:
    return [alert.kind for alert in alerts]


def _one(alerts: list[Alert], kind: str) -> Alert:
    matching = [alert for alert in alerts if alert.kind == kind]
    assert len(matching) == 1, _kinds(alerts)
    return matching[0]


def _context(run_id: str, dag_id: str = "symphonics_reconcile") -> dict[str, Any]:
    return {"dag_run": SimpleNamespace(dag_id=dag_id, run_id=run_id), "run_id": run_id}


# --- planting -----------------------------------------------------------------------------------------------------


def _plant_snapshot(dsn: str, categories: dict[str, int], snapshot_date: date = SNAPSHOT_DATE) -> None:
    """The date's snapshot holds exactly these rows: change rows from that date, gone the day after (0022)."""
    as_of = datetime.combine(snapshot_date, datetime.min.time(), UTC)
    ids = [
        (f"{snapshot_date}-{category}-{index}", category)
        for category, count in categories.items()
        for index in range(count)
    ]
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO analytics.snapshot_builds (snapshot_date, as_of, known_at, stale_days, row_count) "
            "VALUES (%s, %s, %s, 30, %s)",
            (snapshot_date, as_of, as_of, len(ids)),
        )
        cur.executemany(
            "INSERT INTO analytics.snapshot_changes (external_id, valid_from, present, category, ledger_state, "
            "rejected_documents) VALUES (%s, %s, true, %s, 'published', '{}')",
            [(external_id, snapshot_date, category) for external_id, category in ids],
        )
        cur.executemany(
            "INSERT INTO analytics.snapshot_changes (external_id, valid_from, present) VALUES (%s, %s, false)",
            [(external_id, snapshot_date + timedelta(days=1)) for external_id, _ in ids],
        )


def _plant_publish_run(dsn: str, run_id: str, *, deferred: int, backlog: int, age: timedelta = timedelta(0)) -> None:
    started = datetime.now(UTC) - age
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO symphonics.publish_runs (dag_id, run_id, deferred_by_quota, backlog, started_at, finished_at) "
            "VALUES ('symphonics_publish', %s, %s, %s, %s, %s)",
            (run_id, deferred, backlog, started, started + timedelta(minutes=1)),
        )


@dataclass
class Receiver:
    """The real webhook receiver (in process) on the test sync database."""

    client: TestClient

    def post(self, payload: dict[str, Any], *, signature: str | None) -> int:
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json"}
        if signature == "valid":
            headers["X-Symphonics-Signature"] = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        elif signature is not None:
            headers["X-Symphonics-Signature"] = signature
        return self.client.post("/", content=body, headers=headers).status_code

    def flush(self) -> None:
        """Write the refusals counted in memory now (the receiver does so every few seconds on its own)."""
        self.client.app.state.receiver.flush_refusals()  # type: ignore[attr-defined]


def _event(index: int, *, age: timedelta = timedelta(0)) -> dict[str, Any]:
    return {
        "event": "intervention.status_update",
        "timestamp": (datetime.now(UTC) - age).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": {
            "intervention_id": f"sym_alert_{index:04d}",
            "external_id": f"ext-alert-{index:04d}",
            "previous_status": "processing",
            "new_status": "approved",
        },
    }


@pytest.fixture
def receiver(alert_db: str) -> Iterator[Receiver]:
    from include.symphonics.webhooks import WebhookSettings, create_webhook_app

    settings = WebhookSettings(secret=SECRET, dsn=alert_db)
    app = create_webhook_app(settings)
    with TestClient(app, raise_server_exceptions=True) as client:
        yield Receiver(client)
    app.state.receiver.close()


# --- the rules ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("categories", "alerted"),
    [
        pytest.param({"approved": 14, "rejected": 4, "document_rejected": 2}, True, id="30pct-of-20"),
        pytest.param({"approved": 15, "rejected": 5}, False, id="exactly-25pct"),
        pytest.param({"approved": 1, "rejected": 18}, False, id="too-few-decided"),
        pytest.param({"approved": 30, "awaiting_partner": 40, "invalid_in_app": 40}, False, id="undecided-ignored"),
    ],
)
def test_rejected_share_alerts_above_its_threshold_only(
    alert_db: str, categories: dict[str, int], alerted: bool
) -> None:
    _plant_snapshot(alert_db, categories)
    # Another date's rejections never count.
    _plant_snapshot(alert_db, {"rejected": 50}, SNAPSHOT_DATE - timedelta(days=1))

    alerts = evaluate(alert_db, SNAPSHOT_DATE, RunFacts(), SETTINGS)

    if not alerted:
        assert alerts == []
        return
    alert = _one(alerts, "rejected_share")
    assert _kinds(alerts) == ["rejected_share"]
    assert alert.severity == "warning"
    assert alert.details["decided"] == 20
    assert alert.details["rejected"] == 6
    assert "30%" in alert.message


def test_rejected_share_is_silent_without_a_snapshot(alert_db: str) -> None:
    _plant_snapshot(alert_db, {"rejected": 50})
    assert evaluate(alert_db, None, RunFacts(), SETTINGS) == []


@pytest.mark.parametrize(
    ("publish_run", "poll", "expected"),
    [
        pytest.param(
            (5, 120, timedelta(hours=1)), None, {"publish_runs_deferred": 1, "deferred_polls": 0}, id="publish"
        ),
        pytest.param(None, {"quota_exhausted": True, "deferred": 7}, {"deferred_polls": 7}, id="polls"),
        pytest.param((5, 0, timedelta(hours=1)), None, None, id="publish-backlog-drained"),
        pytest.param((5, 120, timedelta(hours=30)), None, None, id="publish-outside-window"),
        pytest.param((0, 120, timedelta(hours=1)), None, None, id="publish-not-deferred"),
        pytest.param(None, {"quota_exhausted": False, "deferred": 3}, None, id="polls-partner-unavailable"),
        pytest.param(None, {"quota_exhausted": True, "deferred": 0}, None, id="polls-all-done"),
    ],
)
def test_quota_spent_before_the_backlog_is_drained(
    alert_db: str,
    publish_run: tuple[int, int, timedelta] | None,
    poll: dict[str, Any] | None,
    expected: dict[str, int] | None,
) -> None:
    if publish_run is not None:
        deferred, backlog, age = publish_run
        _plant_publish_run(alert_db, "publish-run-1", deferred=deferred, backlog=backlog, age=age)

    alerts = evaluate(alert_db, None, RunFacts(poll=poll), SETTINGS)

    if expected is None:
        assert alerts == []
        return
    alert = _one(alerts, "quota_before_backlog")
    assert _kinds(alerts) == ["quota_before_backlog"]
    assert alert.severity == "warning"
    for key, value in expected.items():
        assert alert.details[key] == value, key


@pytest.mark.parametrize(("failures", "alerted"), [(11, True), (10, False)])
def test_webhook_signature_failures_alert_above_their_threshold(
    receiver: Receiver, alert_db: str, failures: int, alerted: bool
) -> None:
    # Half with a wrong signature, half with none: both are signature failures.
    for index in range(failures):
        status = receiver.post(_event(index), signature=None if index % 2 else "0" * 64)
        assert status == 401, index
    # Other refusals are no signature failures: a validly signed but stale event.
    assert receiver.post(_event(900, age=timedelta(hours=1)), signature="valid") == 422
    # ...nor are failures older than the window.
    with psycopg.connect(alert_db) as conn:
        conn.execute(
            "INSERT INTO symphonics.webhook_refusals (minute, reason, remote_addr, status_code, requests, first_at,"
            " last_at) SELECT date_trunc('minute', now() - interval '2 days' - g * interval '1 minute'),"
            " 'bad_signature', '192.0.2.1', 401, 1, now() - interval '2 days' - g * interval '1 minute',"
            " now() - interval '2 days' - g * interval '1 minute' FROM generate_series(1, 20) AS g"
        )
    receiver.flush()  # the receiver writes its refusal counts every few seconds; the alert reads them
    reasons = _rows(alert_db, "SELECT reason, sum(requests)::int AS n FROM symphonics.webhook_refusals GROUP BY reason")
    assert {r["reason"]: r["n"] for r in reasons}.get("stale") == 1

    alerts = evaluate(alert_db, None, RunFacts(), SETTINGS)

    kinds = [kind for kind in _kinds(alerts) if kind != "webhook_late_events"]  # the stale one is a late event
    if not alerted:
        assert kinds == []
        return
    assert kinds == ["webhook_signature_failures"]
    alert = _one(alerts, "webhook_signature_failures")
    assert alert.severity == "warning"
    assert alert.details["signature_failures"] == failures


@pytest.mark.parametrize(("late", "alerted"), [(2, True), (1, False), (0, False)])
def test_webhook_late_events_alert_above_their_rate(
    receiver: Receiver, alert_db: str, late: int, alerted: bool
) -> None:
    on_time = 20 - late
    for index in range(on_time):
        assert receiver.post(_event(index), signature="valid") == 200, index
    for index in range(late):
        # Signed, but retried by the partner long after the event: recorded as late, refused with 422.
        assert receiver.post(_event(500 + index, age=timedelta(minutes=30)), signature="valid") == 422, index
    stored = _rows(
        alert_db, "SELECT count(*) AS n, count(*) FILTER (WHERE late) AS late FROM symphonics.webhook_events"
    )
    assert stored[0]["n"] == 20
    assert stored[0]["late"] == late

    alerts = evaluate(alert_db, None, RunFacts(), SETTINGS)

    if not alerted:
        assert alerts == []
        return
    assert _kinds(alerts) == ["webhook_late_events"]
    alert = _one(alerts, "webhook_late_events")
    assert alert.severity == "warning"
    assert alert.details["late_events"] == late
    assert alert.details["webhook_events"] == 20


def test_failed_tasks_of_the_run_raise_one_critical_alert(alert_db: str) -> None:
    alerts = evaluate(alert_db, None, RunFacts(failed_tasks=("poll_statuses", "purge")), SETTINGS)
    assert _kinds(alerts) == ["failed_run"]
    assert alerts[0].severity == "critical"
    assert alerts[0].details["failed_tasks"] == ["poll_statuses", "purge"]


def _plant_every_rule(dsn: str, receiver: Receiver) -> None:
    _plant_snapshot(dsn, {"approved": 10, "rejected": 10})
    _plant_publish_run(dsn, "publish-run-quota", deferred=4, backlog=40)
    for index in range(12):
        assert receiver.post(_event(index), signature=None) == 401
    for index in range(5):
        assert receiver.post(_event(100 + index), signature="valid") == 200
    for index in range(5):
        assert receiver.post(_event(200 + index, age=timedelta(minutes=20)), signature="valid") == 422
    receiver.flush()


EVERY_KIND = {
    "failed_run",
    "rejected_share",
    "quota_before_backlog",
    "webhook_signature_failures",
    "webhook_late_events",
}


def test_every_rule_raises_exactly_once_per_run_into_the_table(alert_db: str, receiver: Receiver) -> None:
    from include.symphonics.alerts import SymphonicsAlertNotifier

    _plant_every_rule(alert_db, receiver)
    facts = RunFacts(
        failed_tasks=("quality_checks.check_app_copy",),
        poll={"quota_exhausted": True, "deferred": 2},
    )
    alerts = evaluate(alert_db, SNAPSHOT_DATE, facts, SETTINGS)
    assert sorted(_kinds(alerts)) == sorted(EVERY_KIND)

    first = SymphonicsAlertNotifier(alerts, sync_conn_id=alert_db)
    first.notify(_context("run-A"))
    # The task retried: the same run raises nothing twice.
    retry = SymphonicsAlertNotifier(evaluate(alert_db, SNAPSHOT_DATE, facts, SETTINGS), sync_conn_id=alert_db)
    retry.notify(_context("run-A"))

    assert {alert.kind for alert in first.raised} == EVERY_KIND
    assert retry.raised == []
    rows = _rows(alert_db, "SELECT * FROM symphonics.alerts ORDER BY id")
    assert sorted(row["kind"] for row in rows) == sorted(EVERY_KIND)
    by_kind = {row["kind"]: row for row in rows}
    for alert in alerts:
        row = by_kind[alert.kind]
        assert row["severity"] == alert.severity, alert.kind
        assert row["message"] == alert.message, alert.kind
        assert row["details"] == json.loads(json.dumps(dict(alert.details))), alert.kind
        assert row["run_id"] == "run-A", alert.kind
        assert row["dag_id"] == "symphonics_reconcile", alert.kind
        assert row["notified_via"] == ["table", "log"], alert.kind


# --- the evaluate_alerts task body and the channel ----------------------------------------------------------------


class FakeTaskInstance:
    """What ``run_evaluate_alerts`` asks of the task instance: the task states of the run."""

    task_id = "evaluate_alerts"

    def __init__(self, run_id: str, states: dict[str, str]) -> None:
        self.run_id = run_id
        self.states = states

    def get_task_states(self, *, dag_id: str, run_ids: list[str]) -> dict[str, dict[str, str]]:
        assert run_ids == [self.run_id]
        return {self.run_id: self.states}


def _run_task(
    run_id: str,
    *,
    states: dict[str, str] | None = None,
    snapshot: bool = True,
    poll: dict[str, Any] | None = None,
) -> dict[str, Any]:
    from include.symphonics.reconcile import steps

    ti = FakeTaskInstance(run_id, states or {"evaluate_alerts": "running"})
    context = {"ti": ti, "dag_run": SimpleNamespace(dag_id="symphonics_reconcile", run_id=run_id), "run_id": run_id}
    snapshot_result = {"snapshot_date": SNAPSHOT_DATE.isoformat()} if snapshot else None
    return steps.run_evaluate_alerts(context, snapshot_result, poll)


@pytest.fixture
def local_channel() -> Iterator[LocalChannel]:
    """A tiny HTTP receiver on 127.0.0.1 that records each POST and answers 200."""
    yield from serve_listener(200)


@pytest.fixture
def failing_channel() -> Iterator[LocalChannel]:
    """The same, answering 500."""
    yield from serve_listener(500)


def _apprise_connection(monkeypatch: pytest.MonkeyPatch, port: int, path: str = "/alerts") -> None:
    """``SYMPHONICS_ALERT_CONN_ID`` names an ``apprise`` connection whose one target is a JSON webhook on loopback."""
    conn = {"conn_type": "apprise", "extra": {"config": {"path": f"json://127.0.0.1:{port}{path}"}}}
    monkeypatch.setenv(f"AIRFLOW_CONN_{ALERT_CONN_ID.upper()}", json.dumps(conn))
    monkeypatch.setenv("SYMPHONICS_ALERT_CONN_ID", ALERT_CONN_ID)


def test_all_quiet_raises_nothing(alert_db: str, receiver: Receiver) -> None:
    _plant_snapshot(alert_db, {"approved": 40, "rejected": 2})
    _plant_publish_run(alert_db, "publish-run-ok", deferred=0, backlog=0)
    for index in range(10):
        assert receiver.post(_event(index), signature="valid") == 200
    result = _run_task(
        "quiet-run",
        poll={"quota_exhausted": False, "deferred": 0},
    )
    assert result == {"alerts": [], "failed_tasks": []}
    assert _rows(alert_db, "SELECT kind FROM symphonics.alerts") == []


def test_the_apprise_channel_receives_each_alert_once_even_when_the_task_is_retried(
    alert_db: str, receiver: Receiver, local_channel: LocalChannel, monkeypatch: pytest.MonkeyPatch
) -> None:
    _plant_every_rule(alert_db, receiver)
    _apprise_connection(monkeypatch, local_channel.port)
    task = {
        "states": {"poll_statuses": "failed", "build_snapshot": "success", "evaluate_alerts": "running"},
        "poll": {"quota_exhausted": True, "deferred": 2},
    }

    result = _run_task("channel-run", **task)  # type: ignore[arg-type]
    retried = _run_task("channel-run", **task)  # type: ignore[arg-type]

    assert set(result["alerts"]) == EVERY_KIND
    # The rules still see the same conditions; the notifier finds each alert of the run raised and sends nothing.
    assert set(retried["alerts"]) == EVERY_KIND
    assert result["failed_tasks"] == ["poll_statuses"]
    posts = [local_channel.received.get(timeout=5) for _ in EVERY_KIND]
    assert local_channel.received.empty()  # the retry sent nothing
    assert {path for path, _, _ in posts} == {"/alerts"}
    assert {content_type for _, content_type, _ in posts} == {"application/json"}
    by_kind = {body["title"].split("] ", 1)[1]: body for _, _, body in posts}
    assert set(by_kind) == EVERY_KIND
    assert by_kind["rejected_share"]["title"] == "[warning] rejected_share"
    assert by_kind["rejected_share"]["type"] == "warning"
    assert "rejected: 10" in by_kind["rejected_share"]["message"].splitlines()
    assert by_kind["failed_run"]["title"] == "[critical] failed_run"
    assert by_kind["failed_run"]["type"] == "failure"
    assert 'failed_tasks: ["poll_statuses"]' in by_kind["failed_run"]["message"].splitlines()
    assert "run: channel-run" in by_kind["failed_run"]["message"].splitlines()
    rows = _rows(alert_db, "SELECT kind, notified_via FROM symphonics.alerts WHERE run_id = 'channel-run'")
    assert {row["kind"] for row in rows} == EVERY_KIND
    assert all(row["notified_via"] == ["table", "log", ALERT_CONN_ID] for row in rows), rows


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("channel", ["unreachable", "answers-500"])
def test_a_failing_channel_does_not_lose_the_alert_row(
    alert_db: str, failing_channel: LocalChannel, monkeypatch: pytest.MonkeyPatch, channel: str
) -> None:
    port = _closed_port() if channel == "unreachable" else failing_channel.port
    _apprise_connection(monkeypatch, port)

    result = _run_task("failing-channel-run", states={"purge": "failed", "evaluate_alerts": "running"})

    assert result["alerts"] == ["failed_run"]
    rows = _rows(alert_db, "SELECT kind, severity, run_id, notified_via FROM symphonics.alerts")
    assert len(rows) == 1
    assert rows[0]["kind"] == "failed_run"
    assert rows[0]["severity"] == "critical"
    assert rows[0]["run_id"] == "failing-channel-run"
    assert rows[0]["notified_via"] == ["table", "log"]
    if channel == "answers-500":
        assert failing_channel.received.get(timeout=5)[2]["title"] == "[critical] failed_run"


def test_an_unknown_channel_type_keeps_the_alert_row(alert_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from include.symphonics.alerts import SymphonicsAlertNotifier

    monkeypatch.setenv("AIRFLOW_CONN_SYMPHONICS_ALERTS_NOWHERE", json.dumps({"conn_type": "carrier-pigeon"}))
    alert = Alert("failed_run", "critical", "task x failed", {"failed_tasks": ["x"]})

    SymphonicsAlertNotifier([alert], sync_conn_id=alert_db, conn_id="symphonics_alerts_nowhere").notify(
        _context("pigeon-run")
    )

    rows = _rows(alert_db, "SELECT kind, notified_via FROM symphonics.alerts")
    assert rows == [{"kind": "failed_run", "notified_via": ["table", "log"]}]


def test_one_alert_per_failed_run_whichever_tasks_fail(
    alert_db: str, local_channel: LocalChannel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The notifier as ``on_failure_callback``: the first failed task of a run alerts, the next ones of that run do
    not, and the same run id in another DAG is another run."""
    from include.symphonics.alerts import SymphonicsAlertNotifier

    _apprise_connection(monkeypatch, local_channel.port)

    def failed(task_id: str, dag_id: str = "symphonics_publish") -> None:
        ti = SimpleNamespace(task_id=task_id, dag_id=dag_id, try_number=3)
        SymphonicsAlertNotifier(sync_conn_id=alert_db).notify({**_context("scheduled__2026-12-07", dag_id), "ti": ti})

    failed("extract")
    failed("publish")
    failed("extract", "symphonics_reconcile")

    rows = _rows(alert_db, "SELECT kind, dag_id, run_id, details FROM symphonics.alerts ORDER BY id")
    assert [(row["kind"], row["dag_id"]) for row in rows] == [
        ("failed_run", "symphonics_publish"),
        ("failed_run", "symphonics_reconcile"),
    ]
    assert rows[0]["details"]["first_failed_task"] == "extract"
    titles = [local_channel.received.get(timeout=5)[2]["title"] for _ in rows]
    assert titles == ["[critical] failed_run"] * 2
    assert local_channel.received.empty()
