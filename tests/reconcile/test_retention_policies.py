"""Retention of the growing tables (migration 0020): the nightly purge, run as the pipeline's role, removes exactly
the rows past each table's retention in bounded batches through the owner's SECURITY DEFINER functions, and
those functions refuse what could empty a table: a recent date, a huge batch, a role other than the pipeline's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from include.symphonics.db import migrate, roles
from include.symphonics.reconcile.purge import purge
from tests.fixtures.roles import as_login, login_in
from tests.fixtures.stack import TestStack

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
RETENTIONS = {
    "body_retention": timedelta(days=30),
    "api_calls_retention": timedelta(days=90),
    "event_retention": timedelta(days=400),
    "ledger_history_retention": timedelta(days=400),
    "dry_run_retention": timedelta(days=30),
}


@pytest.fixture
def migrated(scratch_db: str) -> str:
    migrate.upgrade(scratch_db)
    return scratch_db


@pytest.fixture
def pipeline(migrated: str, stack: TestStack) -> Iterator[str]:
    with login_in(stack.server, roles.PIPELINE_ROLE) as (login, password):
        yield as_login(migrated, login, password)


def _ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def _arrange(owner: str) -> None:
    """Rows on both sides of each retention (as the owner: the ledger history is append-only to the pipeline)."""
    with psycopg.connect(owner) as conn:
        for n, days in enumerate((100, 95, 91, 89, 1)):
            conn.execute(
                "INSERT INTO symphonics.api_calls (called_at, client_id, priority_class, operation, method, path, "
                " latency_ms, attempt) VALUES (%s, 'c', 'reconcile', 'get', 'GET', %s, 1, 1)",
                (_ago(days), f"/crm/{n}"),
            )
        # (days ago, processed): processed events past 400 days go; an unprocessed one never does.
        for n, (days, processed) in enumerate(
            ((500, True), (450, True), (401, True), (500, False), (40, True), (2, True))
        ):
            conn.execute(
                "INSERT INTO symphonics.webhook_events (received_at, event_type, event_at, intervention_id, raw_body, "
                " dedup_key, signature_secret_used, processed_at) "
                "VALUES (%s, 'x.unknown', %s, %s, '{\"a\": 1}', %s, 'current', %s)",
                (_ago(days), _ago(days), f"sym_{n}", bytes([n]) * 32, _ago(days) if processed else None),
            )
        for n, days in enumerate((900, 401, 399, 3)):
            conn.execute(
                "INSERT INTO symphonics.ledger_history (ledger_id, external_id, to_state, attempts, changed_at) "
                "VALUES (%s, %s, 'pending', 0, %s)",
                (n, f"int_{n:08d}", _ago(days)),
            )
        for run_id, days in (("dry-old", 60), ("dry-old", 59), ("dry-mid", 31), ("dry-newest", 40)):
            conn.execute(
                "INSERT INTO symphonics.dry_run_results (run_id, external_id, action, state, recorded_at) "
                "VALUES (%s, %s, 'create', 'ready', %s)",
                (run_id, f"int_{days:08d}", _ago(days)),
            )
        # The newest dry run is the one recorded last, whatever its rows' ages.
        conn.execute("UPDATE symphonics.dry_run_results SET recorded_at = %s WHERE run_id = 'dry-newest'", (_ago(35),))
        conn.execute("UPDATE symphonics.dry_run_results SET recorded_at = %s WHERE run_id = 'dry-mid'", (_ago(36),))


def _left(owner: str) -> dict[str, list[object]]:
    with psycopg.connect(owner) as conn:
        return {
            "api_calls": [r[0] for r in conn.execute("SELECT path FROM symphonics.api_calls ORDER BY path")],
            "events": [
                (r[0], r[1])
                for r in conn.execute(
                    "SELECT intervention_id, raw_body <> '' FROM symphonics.webhook_events ORDER BY intervention_id"
                )
            ],
            "history": [r[0] for r in conn.execute("SELECT external_id FROM symphonics.ledger_history ORDER BY 1")],
            "dry_runs": [
                r[0] for r in conn.execute("SELECT DISTINCT run_id FROM symphonics.dry_run_results ORDER BY 1")
            ],
        }


def test_the_nightly_purge_as_the_pipeline_role_removes_exactly_what_is_past_each_retention_in_batches(
    migrated: str, pipeline: str
) -> None:
    _arrange(migrated)
    result = purge(pipeline, **RETENTIONS, batch_size=2, now=NOW)  # type: ignore[arg-type]

    assert _left(migrated) == {
        "api_calls": ["/crm/3", "/crm/4"],
        # sym_3 is old but not processed yet: kept, its body blanked; sym_4 (40 days) loses its body only.
        "events": [("sym_3", False), ("sym_4", False), ("sym_5", True)],
        "history": ["int_00000002", "int_00000003"],
        "dry_runs": ["dry-newest"],
    }
    assert (result["api_calls"], result["webhook_events"], result["ledger_history"]) == (3, 3, 2)
    assert result["webhook_bodies"] == 5
    assert result["dry_run_results"] == 3
    # Batches of 2: every pass ends on a short batch, so 12 rows took more than one batch per table.
    assert result["batches"] >= 10

    again = purge(pipeline, **RETENTIONS, batch_size=2, now=NOW)  # type: ignore[arg-type]
    assert {key: again[key] for key in ("api_calls", "webhook_events", "ledger_history", "webhook_bodies")} == {
        "api_calls": 0,
        "webhook_events": 0,
        "ledger_history": 0,
        "webhook_bodies": 0,
    }
    assert again["dry_run_results"] == 0


def test_the_purge_functions_refuse_a_recent_date_a_huge_batch_and_other_roles(
    migrated: str, pipeline: str, stack: TestStack
) -> None:
    _arrange(migrated)
    with psycopg.connect(pipeline, autocommit=True) as conn:
        # The pipeline cannot delete history itself: only through the function, and only what is old.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM symphonics.ledger_history")
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="keeps at least 30 day"):
            conn.execute("SELECT symphonics.purge_ledger_history(now(), 100)")
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="a batch is 1 to 50000"):
            conn.execute("SELECT symphonics.purge_api_calls(now() - interval '90 days', 1000000)")
    with login_in(stack.server, roles.DASHBOARD_ROLE) as (login, password):
        dashboard = as_login(migrated, login, password)
        with psycopg.connect(dashboard, autocommit=True) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT symphonics.purge_ledger_history(now() - interval '400 days', 100)")
    assert len(_left(migrated)["history"]) == 4
