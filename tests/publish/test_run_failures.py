"""The failed rows of a run (the dashboard's list and CSV), read from the ledger's history: exactly the rows the run
left invalid, rejected, failed or dead lettered, with their reasons; personal data masked."""

from __future__ import annotations

import csv
import io
import re

import psycopg
import pytest
from fastapi.testclient import TestClient

from include.symphonics.dashboard import create_dashboard_app, run_failures
from include.symphonics.dashboard.settings import QuotaLimits
from tests.publish.conftest import PublishWorld, run_pipeline

pytestmark = pytest.mark.integration

#: An e-mail not masked as ``x***@domain``.
CLEAR_EMAIL = re.compile(r"[A-Za-z0-9._%+-]{2,}@[A-Za-z0-9.-]+")


def test_the_failed_rows_of_a_run_are_the_rows_it_failed(world: PublishWorld) -> None:
    with psycopg.connect(world.sync_dsn) as conn:
        conn.execute("TRUNCATE symphonics.ledger_history")  # the demo's ids are every test's
    run_pipeline("f-first")
    failed_states = set(run_failures.FAILED_STATES)
    expected = {
        external_id: (row["state"], row["state_reason"])
        for external_id, row in world.rows().items()
        if row["state"] in failed_states
    }
    assert {state for state, _ in expected.values()} >= {"invalid", "rejected_validation"}
    run_pipeline("f-second")  # works on nothing new: fails nothing

    with psycopg.connect(world.sync_dsn, autocommit=True) as conn:
        first = run_failures.run_failures(conn, "f-first")
        second = run_failures.run_failures(conn, "f-second")
    assert {row["external_id"]: (row["ended_in"], row["reason"]) for row in first["rows"]} == expected
    assert first["total"] == len(expected)
    assert sum(first["by_reason"].values()) == len(expected)
    assert second["total"] == 0

    app = create_dashboard_app(
        dsn=world.sync_dsn, limits=QuotaLimits(client_id="x", source="tests"), login=lambda: {"username": "ops"}
    )
    with TestClient(app) as client:
        response = client.get("/api/run_failures.csv", params={"run_id": "f-first"})
        as_json = client.get("/api/run_failures", params={"run_id": "f-first"}).json()
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="failed-rows-f-first.csv"' in response.headers["content-disposition"]
    lines = list(csv.DictReader(io.StringIO(response.text)))
    assert [line["external_id"] for line in lines] == [row["external_id"] for row in as_json["rows"]]
    assert {line["external_id"]: (line["ended_in"], line["reason"]) for line in lines} == expected
    assert not CLEAR_EMAIL.search(response.text), CLEAR_EMAIL.findall(response.text)[:3]
