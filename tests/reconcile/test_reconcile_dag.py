"""The reconcile DAG end to end with ``dag.test()``: publish the demo data set to the sandbox, let the sandbox decide,
deliver its webhooks to the real receiver, reconcile; then rebuilds, immutability, checks, alerts, the analyst role
and the purge."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

from include.symphonics_demo import ExpectedState
from tests.publish.conftest import PublishWorld
from tests.reconcile.conftest import WebhookFeed

#: Interventions whose webhooks are "lost": the poll must find their status.
LOST = 4


def _run(dag: Any, *, ok: bool = True, **conf: Any) -> Any:
    run = dag.test(run_conf=conf or None)
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert (run.state == "success") is ok, states
    return run


def _rows(dsn: str, sql: str, *params: Any) -> list[dict[str, Any]]:
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]


def _snapshot(dsn: str, snapshot_date: Any) -> dict[str, dict[str, Any]]:
    rows = _rows(dsn, "SELECT * FROM analytics.reconciliation_snapshots WHERE snapshot_date = %s", snapshot_date)
    return {row["external_id"]: row for row in rows}


def _published_and_decided(world: PublishWorld, publish_dag: Any, feed: WebhookFeed) -> set[str]:
    """Publish, decide everything at the partner, deliver every webhook but those of a few interventions."""
    run = publish_dag.test()
    assert run.state == "success"
    world.sandbox.tick(steps=2)
    ledger = world.rows()
    published = sorted(row["symphonics_id"] for row in ledger.values() if row["state"] == "published")
    lost = frozenset(published[:LOST])
    feed.deliver_all(world.sandbox.webhook_events(), skip=lost)
    return set(lost)


def _forget_other_suites_failed_runs() -> None:
    """Delete the failed runs other suites made on purpose (bad params) in the session's Airflow database: the
    reconciliation rightly alerts on them, and this suite asserts that its own world alerts on nothing."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    with create_session() as session:
        session.execute(delete(DagRun).where(DagRun.state == "failed", DagRun.dag_id.like("symphonics_%")))


@pytest.fixture
def reconciled(
    reconcile_world: PublishWorld,
    publish_dag: Any,
    reconcile_dag: Any,
    webhook_feed: WebhookFeed,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[PublishWorld, Any, set[str]]:
    # No waiting for an intervention to go quiet: everything without a final status is polled.
    monkeypatch.setenv("SYMPHONICS_RECONCILE_POLL_AFTER_HOURS", "0")
    _forget_other_suites_failed_runs()
    lost = _published_and_decided(reconcile_world, publish_dag, webhook_feed)
    run = _run(reconcile_dag)
    return reconcile_world, run, lost


def test_reconcile_categorises_every_intervention(reconciled: tuple[PublishWorld, Any, set[str]]) -> None:
    world, run, lost = reconciled
    expected = world.expected
    build = _rows(world.sync_dsn, "SELECT * FROM analytics.snapshot_builds")
    assert len(build) == 1
    snapshot = _snapshot(world.sync_dsn, build[0]["snapshot_date"])

    in_scope = {eid: o for eid, o in expected.outcomes.items() if o.state is not ExpectedState.OUT_OF_SCOPE}
    assert set(snapshot) == set(in_scope)
    for external_id, outcome in in_scope.items():
        row = snapshot[external_id]
        if outcome.state in (ExpectedState.INVALID, ExpectedState.REJECTED_VALIDATION):
            assert row["category"] == "invalid_in_app", (external_id, outcome.case)
        elif external_id in expected.partner_rejects_later:
            assert row["category"] == "rejected", (external_id, row)
            assert "photos" in (row["partner_notes"] or ""), row["partner_notes"]
        else:
            assert row["category"] == "approved", (external_id, outcome.case, row)
            assert row["approved_at"] is not None
            assert row["symphonics_id"].startswith("sym_")
        assert row["installer_masked"] is None or "***@" in row["installer_masked"]

    # Every transition is in the history: webhooks for most, polls for the "lost" ones.
    sources = Counter(
        (r["source"], r["to_status"])
        for r in _rows(
            world.sync_dsn, "SELECT source, to_status FROM symphonics.status_history WHERE event_kind = 'status'"
        )
    )
    published = expected.state_counts[ExpectedState.PUBLISHED]
    assert sources[("poll", "approved")] + sources[("poll", "rejected")] == len(lost)
    assert sources[("webhook", "approved")] + sources[("webhook", "rejected")] == published - len(lost)
    assert sum(count for (source, _), count in sources.items() if source == "publish") == len(expected.outcomes)
    # Every event was applied.
    pending = _rows(world.sync_dsn, "SELECT count(*) AS n FROM symphonics.webhook_events WHERE processed_at IS NULL")
    assert pending[0]["n"] == 0
    # The checks passed and nothing was alerted.
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert all(state == "success" for state in states.values()), states
    assert _rows(world.sync_dsn, "SELECT kind FROM symphonics.alerts") == []


def test_a_snapshot_is_never_changed_and_a_run_again_gives_the_same_rows(
    reconciled: tuple[PublishWorld, Any, set[str]], reconcile_dag: Any, webhook_feed: WebhookFeed
) -> None:
    world, _, _ = reconciled
    day = _rows(world.sync_dsn, "SELECT snapshot_date FROM analytics.snapshot_builds")[0]["snapshot_date"]
    before = _snapshot(world.sync_dsn, day)

    # Life goes on after the snapshot: a rejected intervention gets a new status, the app edits one.
    rejected = next(row for row in before.values() if row["category"] == "rejected")
    webhook_feed.deliver(
        {
            "event": "intervention.status_update",
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "data": {
                "intervention_id": rejected["symphonics_id"],
                "external_id": rejected["external_id"],
                "previous_status": "rejected",
                "new_status": "processing",
                "notes": "additional proof received",
            },
        }
    )
    with psycopg.connect(world.app_dsn) as conn:
        conn.execute("UPDATE interventions SET status = 'cancelled' WHERE external_id = %s", (rejected["external_id"],))

    # The same date again: the snapshot is complete, nothing changes.
    _run(reconcile_dag, snapshot_date=day.isoformat())
    assert _snapshot(world.sync_dsn, day) == before
    # The store is insert-only (0022): a change row is neither changed nor deleted; the view is not writable.
    for statement in (
        "UPDATE analytics.snapshot_changes SET category = 'in_sync' WHERE valid_from = %s",
        "DELETE FROM analytics.snapshot_changes WHERE valid_from = %s",
    ):
        with pytest.raises(psycopg.errors.IntegrityConstraintViolation), psycopg.connect(world.sync_dsn) as conn:
            conn.execute(statement, (day,))
    with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState), psycopg.connect(world.sync_dsn) as conn:
        conn.execute("DELETE FROM analytics.reconciliation_snapshots WHERE snapshot_date = %s", (day,))
    _run(reconcile_dag, snapshot_date=day.isoformat())
    assert _snapshot(world.sync_dsn, day) == before

    # A later date sees the news.
    later = (day + timedelta(days=1)).isoformat()
    _run(reconcile_dag, snapshot_date=later)
    after = _snapshot(world.sync_dsn, day + timedelta(days=1))
    assert after[rejected["external_id"]]["category"] == "changed_after_publish"
    assert after[rejected["external_id"]]["partner_status"] == "processing"


def test_a_planted_duplicate_fails_a_check_and_alerts(
    reconciled: tuple[PublishWorld, Any, set[str]], reconcile_dag: Any
) -> None:
    world, _, _ = reconciled
    with psycopg.connect(world.sync_dsn) as conn:
        conn.execute(
            "INSERT INTO symphonics.app_interventions_copy (external_id, app_updated_at, app_intervention_id, status) "
            "SELECT external_id, app_updated_at - interval '1 second', app_intervention_id + 1000000, status "
            "FROM symphonics.app_interventions_copy ORDER BY external_id LIMIT 1"
        )
    run = _run(reconcile_dag, ok=False)
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["quality_checks.check_app_copy"] == "failed"
    assert states["purge"] == "success"
    alerts = _rows(world.sync_dsn, "SELECT kind, severity, details, run_id FROM symphonics.alerts")
    failed = [a for a in alerts if a["kind"] == "failed_run"]
    assert len(failed) == 1
    assert failed[0]["run_id"] == run.run_id
    assert failed[0]["severity"] == "critical"
    assert "quality_checks.check_app_copy" in failed[0]["details"]["failed_tasks"]


def _as_analyst(conn: psycopg.Connection, statement: sql.Composable) -> None:
    with conn.transaction():
        conn.execute("SET LOCAL ROLE symphonics_analyst")
        conn.execute(statement).fetchall()


def test_the_analyst_role_reads_the_views_and_nothing_else(reconciled: tuple[PublishWorld, Any, set[str]]) -> None:
    world, _, _ = reconciled
    with psycopg.connect(world.sync_dsn) as conn:
        with conn.transaction():
            conn.execute("SET LOCAL ROLE symphonics_analyst")
            for view in ("interventions_current", "rejections", "time_to_approval", "quota_daily"):
                conn.execute(sql.SQL("SELECT * FROM {} LIMIT 5").format(sql.Identifier("analytics", view))).fetchall()
            current = conn.execute(
                "SELECT customer_email_masked, customer_phone_masked FROM analytics.interventions_current "
                "WHERE customer_email_masked IS NOT NULL LIMIT 1"
            ).fetchone()
            assert current is not None
            assert "***@" in current[0]
            assert current[1].startswith("******")
            assert conn.execute("SELECT count(*) FROM analytics.rejections").fetchone()[0] > 0
            assert conn.execute("SELECT count(*) FROM analytics.time_to_approval").fetchone()[0] > 0
        for schema, table in (
            ("symphonics", "interventions_ledger"),
            ("symphonics", "status_history"),
            ("symphonics", "api_calls"),
        ):
            statement = sql.SQL("SELECT * FROM {} LIMIT 1").format(sql.Identifier(schema, table))
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                _as_analyst(conn, statement)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            _as_analyst(conn, sql.SQL("DELETE FROM analytics.snapshot_changes RETURNING 1"))


def test_the_purge_removes_only_old_rows(reconcile_world: PublishWorld) -> None:
    from include.symphonics.reconcile.purge import purge

    dsn = reconcile_world.sync_dsn
    old, recent = datetime.now(UTC) - timedelta(days=100), datetime.now(UTC) - timedelta(days=1)
    with psycopg.connect(dsn) as conn:
        for called_at in (old, recent):
            conn.execute(
                "INSERT INTO symphonics.api_calls (called_at, client_id, priority_class, operation, method, path, "
                "latency_ms, attempt) VALUES (%s, 'c', 'reconcile', 'get_intervention', 'GET', '/crm/x', 1, 1)",
                (called_at,),
            )
            conn.execute(
                "INSERT INTO symphonics.webhook_events (received_at, event_type, event_at, intervention_id, raw_body, "
                "dedup_key, signature_secret_used) VALUES (%s, 'x.unknown', %s, 'sym_1', '{\"a\": 1}', %s, 'current')",
                (called_at, called_at, called_at.isoformat().encode().ljust(32, b"0")[:32]),
            )
    result = purge(dsn, body_retention=timedelta(days=30), api_calls_retention=timedelta(days=90))
    assert result["api_calls"] == 1
    assert result["webhook_bodies"] == 1
    calls = _rows(dsn, "SELECT called_at FROM symphonics.api_calls")
    bodies = _rows(dsn, "SELECT received_at, raw_body FROM symphonics.webhook_events ORDER BY received_at")
    assert len(calls) == 1
    assert calls[0]["called_at"] > old
    assert [b["raw_body"] for b in bodies] == ["", '{"a": 1}']
