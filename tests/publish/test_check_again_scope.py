"""A publish run given ``external_ids`` ("check again now") works on those rows only, through every step, and spends
what the dashboard's cost dialog predicted: the backlog of other ready rows stays as it was."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from include.symphonics.dashboard import check_again
from include.symphonics.dashboard.settings import QuotaLimits
from tests.publish.conftest import PublishWorld, run_pipeline, validate_pipeline

pytestmark = pytest.mark.integration

#: What a run could change on a row it works on (its claim included): the backlog's must not move.
_ROWS = """
SELECT external_id, state, state_reason, claim_key, claimed_at, last_run_id, updated_at, state_changed_at,
       prevalidated_at, validated_at, last_sent_at, attempts, symphonics_id
  FROM symphonics.interventions_ledger
"""


def _rows(sync_dsn: str) -> dict[str, dict[str, Any]]:
    with psycopg.connect(sync_dsn, row_factory=dict_row) as conn:
        rows = conn.execute(_ROWS).fetchall()
    return {row["external_id"]: row for row in rows}


def _requests(sync_dsn: str) -> int:
    """Requests sent so far (token requests and retries included), by the client's call log."""
    with psycopg.connect(sync_dsn) as conn:
        row = conn.execute("SELECT count(*) FROM symphonics.api_calls").fetchone()
    assert row is not None
    return int(row[0])


def _check_again(world: PublishWorld, run_id: str, named: list[str], backlog: list[str]) -> None:
    """Run the pipeline given ``named``: those are published at the cost the dialog shows, the backlog untouched."""
    limits = QuotaLimits(client_id=world.sandbox.client_id, requests_per_day=1_000_000, source="tests")
    with psycopg.connect(world.sync_dsn, row_factory=dict_row) as conn:
        cost = check_again.preview(conn, named, limits)
    assert (cost["known"], cost["calls"]) == (len(named), len(named))  # the rows named only, not the backlog

    creates, sandbox_calls, requests = len(world.creates()), len(world.sandbox.calls()), _requests(world.sync_dsn)
    before = _rows(world.sync_dsn)
    result = run_pipeline(run_id, external_ids=named)
    after = _rows(world.sync_dsn)

    assert len(world.creates()) - creates == len(named)
    assert {external_id: after[external_id]["state"] for external_id in named} == dict.fromkeys(named, "published")
    assert set(named) <= set(world.partner_external_ids())
    # Every step worked on the named rows only: the backlog rows are as they were, unclaimed.
    assert result["extract"]["missing_external_ids"] == []
    assert sum(result["local"].values()) == len(named)
    assert result["partner"]["ready"] == len(named)
    assert result["publish"]["published"] == len(named)
    assert [external_id for external_id in backlog if after[external_id] != before[external_id]] == []
    assert all(after[external_id]["claim_key"] is None for external_id in backlog)
    # It spent exactly what the dialog said, by the client's call log and by the partner's.
    assert _requests(world.sync_dsn) - requests == cost["calls"]
    assert len(world.sandbox.calls()) - sandbox_calls == cost["calls"]


def test_a_run_given_external_ids_publishes_those_only_at_the_cost_shown(world: PublishWorld) -> None:
    from include.symphonics.publish import steps

    # Validated up to the partner (the caches and the token are warm): the valid rows are ready.
    validate_pipeline("scope-warm")
    valid = sorted(external_id for external_id, row in _rows(world.sync_dsn).items() if row["state"] == "ready")
    assert len(valid) >= 12
    named_dry, first, second, third = valid[0:2], valid[2:4], valid[4:7], valid[7:9]

    # A dry run given ids plans those only.
    run_pipeline("scope-dry", dry_run=True, external_ids=named_dry)
    with psycopg.connect(world.sync_dsn) as conn:
        planned = conn.execute(
            "SELECT external_id FROM symphonics.dry_run_results WHERE run_id = 'scope-dry' AND action = 'create'"
        ).fetchall()
    assert sorted(external_id for (external_id,) in planned) == named_dry
    assert world.creates() == []

    # A backlog waiting for the local rules: every row re-extracted, back to pending.
    steps.run_extract(
        {"from": "2000-01-01T00:00:00Z", "force": True},
        run_id="scope-reextract",
        run_type="manual",
        logical_date=None,
        schedule="*/15 * * * *",
    )
    assert {row["state"] for row in _rows(world.sync_dsn).values()} <= {"pending", "out_of_scope"}
    _check_again(world, "scope-1", first, [external_id for external_id in valid if external_id not in first])

    # A backlog waiting for the partner's validation.
    steps.run_prevalidate(run_id="scope-local")
    rest = [external_id for external_id in valid if external_id not in first + second]
    _check_again(world, "scope-2", second, rest)

    # A backlog of ready rows.
    steps.run_partner_validation(run_id="scope-partner")
    rest = [external_id for external_id in valid if external_id not in first + second + third]
    assert {_rows(world.sync_dsn)[external_id]["state"] for external_id in rest} == {"ready"}
    _check_again(world, "scope-3", third, rest)

    # The unscoped run after them publishes the backlog, and nothing twice.
    run_pipeline("scope-rest")
    assert sorted(world.partner_external_ids()) == valid
    assert len(world.creates()) == len(valid)


def test_a_run_given_external_ids_under_the_kill_switch_sends_nothing_and_claims_nothing(world: PublishWorld) -> None:
    validate_pipeline("scope-kill-warm")
    ready = sorted(external_id for external_id, row in _rows(world.sync_dsn).items() if row["state"] == "ready")
    world.kill_switch("on")
    sandbox_calls = len(world.sandbox.calls())
    result = run_pipeline("scope-kill", external_ids=ready[:2])
    assert len(world.sandbox.calls()) == sandbox_calls
    assert result["publish"]["kill_switch"] is True
    after = _rows(world.sync_dsn)
    assert {after[external_id]["state"] for external_id in ready} == {"ready"}
    assert all(after[external_id]["claim_key"] is None for external_id in ready)
