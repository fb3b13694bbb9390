"""A dry run's result is stored (migration 0011) and read by the dashboard, with its cost under the quota left and
as CSV: the rows it would create or PATCH, and those the same run skipped or refused, with their reasons."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import psycopg
import pytest
from fastapi.testclient import TestClient

from include.symphonics.dashboard import create_dashboard_app
from include.symphonics.dashboard.settings import QuotaLimits
from tests.publish.conftest import PublishWorld, run_pipeline

pytestmark = pytest.mark.integration


def test_a_dry_run_is_stored_and_shown_with_its_cost(world: PublishWorld) -> None:
    with psycopg.connect(world.sync_dsn) as conn:
        conn.execute("TRUNCATE symphonics.ledger_history, symphonics.dry_run_results")
    run_pipeline("d-dry", dry_run=True)
    assert world.creates() == []
    ledger = world.rows()
    by_state: dict[str, set[str]] = {}
    for external_id, row in ledger.items():
        by_state.setdefault(row["state"], set()).add(external_id)
    assert by_state["ready"]

    limits = QuotaLimits(client_id=world.sandbox.client_id, requests_per_day=5000, source="tests")
    app = create_dashboard_app(dsn=world.sync_dsn, limits=limits, login=lambda: {"username": "ops"})
    with TestClient(app) as client:
        latest = client.get("/api/dry_run").json()
        named = client.get("/api/dry_run", params={"run_id": "d-dry"}).json()
        exported = client.get("/api/dry_run.csv", params={"run_id": "d-dry"})
        missing = client.get("/api/dry_run", params={"run_id": "no-such-run"})

    assert latest == named
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
