"""Minimisation: finished rows keep no personal value in clear, yet an unchanged app row stays skipped and an edit
after publication is still PATCHed or reported as before."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

from include.symphonics.core.states import WORK_STATES
from include.symphonics.privacy.minimise import minimise_finished_rows
from include.symphonics_demo.mutate import mutate_database
from tests.publish.conftest import DEMO_SEED, PublishWorld, run_pipeline

pytestmark = pytest.mark.integration


def _customers(app_dsn: str) -> dict[str, tuple[str, str, str]]:
    """By external id: the customer's e-mail, last name and the intervention's address, as the app holds them."""
    with psycopg.connect(app_dsn) as conn:
        rows = conn.execute(
            "SELECT i.external_id, c.email, c.last_name, i.address FROM public.interventions AS i "
            "JOIN public.customers AS c ON c.id = i.customer_id"
        ).fetchall()
    return {eid: (email, last_name, address) for eid, email, last_name, address in rows}


def _records_text(row: dict[str, Any]) -> str:
    return json.dumps(
        [row["source"], row["payload"], row["sent_payload"], row["sent_documents"], row["changed_fields"]],
        ensure_ascii=False,
    ).lower()


def _assert_minimised(world: PublishWorld) -> int:
    customers = _customers(world.app_dsn)
    finished = 0
    for eid, row in world.rows().items():
        if row["state"] in WORK_STATES:
            continue
        finished += 1
        text = _records_text(row)
        email, last_name, address = customers[eid]
        found = [value for value in (email, f'"{last_name}"', address) if value and value.lower() in text]
        assert found == [], (eid, row["state"], found)
        assert row["minimised_at"] is not None
    return finished


def test_minimised_rows_hold_no_personal_value_and_change_detection_still_works(
    world: PublishWorld, pipeline_dsn: str
) -> None:
    run_pipeline("first")
    fingerprints = {eid: row["source_fingerprint"] for eid, row in world.rows().items()}
    clear = [eid for eid, row in world.rows().items() if _customers(world.app_dsn)[eid][0] in _records_text(row)]
    assert clear, "before minimisation the ledger holds e-mails in clear"
    assert minimise_finished_rows(pipeline_dsn, batch_size=7) == len(fingerprints)
    assert _assert_minimised(world) == len(fingerprints)
    assert {eid: row["source_fingerprint"] for eid, row in world.rows().items()} == fingerprints

    # Nothing changed in the app: every row read again is skipped by its fingerprint, nothing is sent.
    creates = len(world.creates())
    again = run_pipeline("again", **{"from": "2000-01-01T00:00:00Z"})
    assert again["extract"]["skipped"] == again["extract"]["extracted"] > 0
    assert len(world.creates()) == creates
    assert world.patches() == []

    # Edits after publication, diffed against the fingerprints: as without minimisation.
    report = mutate_database(world.app_dsn, seed=DEMO_SEED, edits=10)
    run_pipeline("after-mutate")
    rows = world.rows()
    late = [m for m in report.mutations if m.action.value == "late_document"]
    assert len(world.patches()) == len(late)
    for mutation in report.mutations:
        row = rows[mutation.external_id]
        assert row["state"] == mutation.expected_state, (mutation, row["state_detail"])
        if mutation.action.value == "address_edit":
            assert set(row["changed_fields"]) == {"installation.address"}
        if mutation.action.value == "cancellation":
            assert row["changed_fields"] == {"status": {"sent": "completed", "now": "cancelled"}}
        if mutation.action.value == "late_document":
            assert [d for d in row["sent_documents"] if d["type"] == "additional_proof"]
    assert minimise_finished_rows(pipeline_dsn) == len(report.mutations)
    _assert_minimised(world)
    run_pipeline("again-after-mutate")
    assert len(world.patches()) == len(late)
