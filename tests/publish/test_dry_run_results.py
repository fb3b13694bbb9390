"""A dry run's result is stored (migration 0011) and read by the dashboard, with its cost under the quota left and
as CSV: the rows it would create or PATCH, and those the same run skipped or refused, with their reasons."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from include.symphonics.dashboard import create_dashboard_app
from include.symphonics.dashboard.settings import QuotaLimits
from tests.publish.conftest import PublishWorld, run_pipeline, validate_pipeline

pytestmark = pytest.mark.integration


def _traces(sync_dsn: str) -> tuple[Any, ...]:
    """What a run leaves in the ledger, its history, the refusals and the high-water mark."""
    with psycopg.connect(sync_dsn) as conn:
        return tuple(
            conn.execute(statement).fetchall()
            for statement in (
                "SELECT * FROM symphonics.interventions_ledger ORDER BY id",
                "SELECT * FROM symphonics.ledger_history ORDER BY id",
                "SELECT * FROM analytics.rejections ORDER BY external_id, rejected_at",
                "SELECT * FROM symphonics.publish_watermarks",
            )
        )


def test_a_dry_run_is_stored_and_shown_with_its_cost(world: PublishWorld) -> None:
    with psycopg.connect(world.sync_dsn) as conn:
        conn.execute("TRUNCATE symphonics.ledger_history, symphonics.dry_run_results")
    limits = QuotaLimits(client_id=world.sandbox.client_id, requests_per_day=5000, source="tests")
    app = create_dashboard_app(dsn=world.sync_dsn, limits=limits, login=lambda: {"username": "ops"})
    with TestClient(app) as client:
        none_yet = client.get("/api/dry_run")
    # No dry run yet: an empty answer (the page shows its empty state), not a 404 logged on every load.
    assert none_yet.status_code == 200
    assert none_yet.json()["run_id"] is None
    assert none_yet.json()["rows"] == []

    # What other tests of the session left in the history and the refusals stays as it is: compared, not assumed empty.
    before = _traces(world.sync_dsn)
    run_pipeline("d-dry", dry_run=True)
    assert world.creates() == []
    # It changed nothing: no ledger row, no history, no refusal; a run validated up to the partner then settles
    # every row as the dry run planned it (the partner's answers come from the caches the dry run filled).
    assert world.rows() == {}
    assert _traces(world.sync_dsn)[1:3] == before[1:3]
    assert before[1] == []  # the history was emptied above: a dry run's would show
    validate_pipeline("d-real")
    ledger = world.rows()
    by_state: dict[str, set[str]] = {}
    for external_id, row in ledger.items():
        by_state.setdefault(row["state"], set()).add(external_id)
    assert by_state["ready"]

    with TestClient(app) as client:
        latest = client.get("/api/dry_run").json()
        named = client.get("/api/dry_run", params={"run_id": "d-dry"}).json()
        exported = client.get("/api/dry_run.csv", params={"run_id": "d-dry"})
        missing = client.get("/api/dry_run", params={"run_id": "no-such-run"})

    # The eta is counted from the moment of each request, so the two answers may be a second apart on it.
    assert {k: v for k, v in latest.items() if k != "eta"} == {k: v for k, v in named.items() if k != "eta"}
    assert named["run_id"] == "d-dry"
    actions: dict[str, set[str]] = {}
    for row in named["rows"]:
        actions.setdefault(row["action"], set()).add(row["external_id"])
    assert actions["create"] == by_state["ready"]
    assert actions["refuse"] == by_state.get("invalid", set()) | by_state.get("rejected_validation", set())
    assert actions["skip"] == by_state["out_of_scope"]
    assert named["counts"]["create"] == len(by_state["ready"])
    assert named["calls"] == len(by_state["ready"])  # one create each
    refused = [row for row in named["rows"] if row["action"] == "refuse"]
    assert all(row["reason"] == ledger[row["external_id"]]["state_reason"] for row in refused)
    creates = [row for row in named["rows"] if row["action"] == "create"]
    assert all(row["fields"] and "@" not in "".join(row["fields"]) for row in creates)  # names, never values

    with psycopg.connect(world.sync_dsn) as conn:
        used = dict(
            conn.execute(
                "SELECT priority_class, count(*) FROM symphonics.api_calls WHERE client_id = %s GROUP BY 1",
                (world.sandbox.client_id,),
            ).fetchall()
        )
    expected_left = min(limits.class_cap("publish") - used.get("publish", 0), 5000 - sum(used.values()))
    assert named["publish_left_today"] == expected_left
    assert datetime.fromisoformat(named["eta"]) >= datetime.now(UTC).replace(microsecond=0)

    assert exported.status_code == 200
    assert 'filename="dry-run-d-dry.csv"' in exported.headers["content-disposition"]
    lines = list(csv.DictReader(io.StringIO(exported.text)))
    assert [line["external_id"] for line in lines] == [row["external_id"] for row in named["rows"]]
    assert missing.status_code == 404


def test_a_dry_run_over_published_and_refused_rows_writes_nothing_but_its_plan(world: PublishWorld) -> None:
    run_pipeline("d-first")
    ledger = world.rows()
    published = sorted(external_id for external_id, row in ledger.items() if row["state"] == "published")
    refused = sorted(external_id for external_id, row in ledger.items() if row["state"] == "rejected_validation")
    assert published
    assert refused
    before = _traces(world.sync_dsn)
    calls = len(world.sandbox.calls())

    # Re-checked by a dry run, given ids and forced, and unscoped: answered from the caches.
    run_pipeline("d-again", dry_run=True, external_ids=[published[0], refused[0]], force=True)
    run_pipeline("d-all", dry_run=True, force=True)

    assert _traces(world.sync_dsn) == before  # no state moved (published -> pending -> published), no row added
    assert len(world.sandbox.calls()) == calls  # answered from the caches: no create, no PATCH, no request
    with psycopg.connect(world.sync_dsn) as conn:
        stored = dict(
            conn.execute(
                "SELECT external_id, action FROM symphonics.dry_run_results WHERE run_id = 'd-again'"
            ).fetchall()
        )
    assert stored == {refused[0]: "refuse"}  # the published, unchanged row: nothing to send
