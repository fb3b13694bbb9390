"""A re-check of an unchanged refusal is not a new refusal, and a re-check of a published, unchanged row moves
nothing (issue 25, point 8): "what did Symphonics reject last week" counts each refusal once."""

from __future__ import annotations

import psycopg

from include.symphonics.reconcile.sqlfiles import query as reconcile_query
from tests.publish.conftest import PublishWorld, run_pipeline


def _record_ledger_states(sync_dsn: str, run_id: str) -> None:
    """What the nightly reconcile does first: the ledger's moved states into status_history."""
    with psycopg.connect(sync_dsn) as conn:
        conn.execute(reconcile_query("record_ledger_history"), {"run_id": run_id})


def _rejections(sync_dsn: str) -> list[tuple[str, str]]:
    with psycopg.connect(sync_dsn) as conn:
        rows = conn.execute(
            "SELECT external_id, reason FROM analytics.rejections WHERE rejection_kind = 'validation' ORDER BY 1, 2"
        ).fetchall()
    return [(external_id, reason) for external_id, reason in rows]


def _history_of(sync_dsn: str, external_id: str) -> list[tuple[str | None, str]]:
    with psycopg.connect(sync_dsn) as conn:
        rows = conn.execute(
            "SELECT from_state, to_state FROM symphonics.ledger_history WHERE external_id = %s ORDER BY id",
            (external_id,),
        ).fetchall()
    return [(from_state, to_state) for from_state, to_state in rows]


def test_a_recheck_of_unchanged_refusals_and_publications_counts_and_moves_nothing(
    reconcile_world: PublishWorld,
) -> None:
    world = reconcile_world
    run_pipeline("first")
    _record_ledger_states(world.sync_dsn, "night-1")
    rows = world.rows()
    published = sorted(external_id for external_id, row in rows.items() if row["state"] == "published")
    refused = sorted(external_id for external_id, row in rows.items() if row["state"] == "rejected_validation")
    before = _rejections(world.sync_dsn)
    assert len(before) == len(refused)  # one row per refused intervention
    published_history = _history_of(world.sync_dsn, published[0])

    # Checked again, as ops do from the dashboard, twice, with a reconcile between: nothing changed in the app.
    run_pipeline("again-1", external_ids=[published[0], *refused])
    _record_ledger_states(world.sync_dsn, "night-2")
    run_pipeline("again-2", external_ids=[published[0], *refused], force=True)
    _record_ledger_states(world.sync_dsn, "night-3")

    assert _rejections(world.sync_dsn) == before
    assert _history_of(world.sync_dsn, published[0]) == published_history  # no published -> pending -> published
    assert world.rows()[published[0]]["state_changed_at"] == rows[published[0]]["state_changed_at"]
