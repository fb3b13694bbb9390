"""mutate: later activity that the incremental extraction must see."""

from __future__ import annotations

import psycopg
import pytest

from include.symphonics_demo import ExpectedState, expected_outcomes
from include.symphonics_demo.generator import seed_database
from include.symphonics_demo.mutate import MutationAction, mutate_database, plan_mutations

N = 400
SEED = 5


def test_mutations_target_published_interventions_and_rounds_are_disjoint() -> None:
    expected = expected_outcomes(SEED, N)
    first = plan_mutations(SEED, N, 20)
    second = plan_mutations(SEED, N, 20, round_number=2)
    assert first == plan_mutations(SEED, N, 20)
    assert not {m.intervention_id for m in first} & {m.intervention_id for m in second}
    for mutation in first + second:
        outcome = expected.outcomes[mutation.external_id]
        assert outcome.state == ExpectedState.PUBLISHED
        assert not outcome.partner_rejects_later
    actions = [m.action for m in first]
    assert actions.count(MutationAction.ADDRESS_EDIT) == 6
    assert actions.count(MutationAction.CANCELLATION) == 4
    assert actions.count(MutationAction.LATE_DOCUMENT) == 10


def test_mutate_bumps_updated_at_and_adds_late_documents(app_dsn: str) -> None:
    seed_database(app_dsn, interventions=N, seed=SEED)
    with psycopg.connect(app_dsn) as conn:
        before = dict(conn.execute("SELECT id, updated_at FROM interventions").fetchall())
        addresses = dict(conn.execute("SELECT id, address FROM interventions").fetchall())
        high_water_mark = max(before.values())

    report = mutate_database(app_dsn, seed=SEED, edits=20)

    with psycopg.connect(app_dsn) as conn:
        after = dict(conn.execute("SELECT id, updated_at FROM interventions").fetchall())
        rows = {
            row[0]: row[1:]
            for row in conn.execute(
                "SELECT i.id, i.status, i.address, "
                "(SELECT count(*) FROM intervention_documents d "
                "  WHERE d.intervention_id = i.id AND d.created_at > i.completed_at + interval '30 days') "
                "FROM interventions i"
            )
        }
    changed = {intervention_id for intervention_id in after if after[intervention_id] != before[intervention_id]}
    assert changed == {m.intervention_id for m in report.mutations}
    assert all(after[i] > high_water_mark for i in changed)  # seen by an extraction past the old mark
    for mutation in report.mutations:
        status, address, late_documents = rows[mutation.intervention_id]
        if mutation.action == MutationAction.LATE_DOCUMENT:
            assert (status, late_documents) == ("completed", 1)
        elif mutation.action == MutationAction.ADDRESS_EDIT:
            assert status == "completed"
            assert address != addresses[mutation.intervention_id]
            assert address[0].isdigit()
        else:
            assert status == "cancelled"
    assert report.counts == {"late_document": 10, "address_edit": 6, "cancellation": 4}


def test_mutate_needs_a_seeded_database(app_dsn: str) -> None:
    from include.symphonics_demo.app_db import apply_schema

    with psycopg.connect(app_dsn) as conn, conn.transaction():
        apply_schema(conn)
    with pytest.raises(RuntimeError, match="seed"):
        mutate_database(app_dsn, seed=SEED, edits=3)
