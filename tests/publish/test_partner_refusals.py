"""Every partner refusal has a path: a 403 or a 404 sets one row aside, the account's refusal stops the run.

The sandbox answers 403 on one resource (``forbidden`` fault), forgets its interventions (its daily reset), and
the steps run in this process against it, with the ledger in the real database.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from include.symphonics.client import CreateOutcome, CreateResult, SymphonicsAuthError
from include.symphonics_demo import ExpectedState
from tests.publish.conftest import PublishWorld, run_pipeline

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("as_pipeline_role")]


def _validated(run_id: str = "prepare") -> None:
    from include.symphonics.publish import steps

    steps.run_extract({}, run_id=run_id, run_type="manual", logical_date=None, schedule="*/15 * * * *")
    steps.run_prevalidate(run_id=run_id)
    steps.run_partner_validation(run_id=run_id)


def _ready_ids(world: PublishWorld, count: int) -> list[str]:
    """The first ``count`` ready rows, in the order the publisher claims them."""
    with psycopg.connect(world.sync_dsn) as conn:
        rows = conn.execute(
            "SELECT external_id FROM symphonics.interventions_ledger WHERE state = 'ready' ORDER BY id LIMIT %s",
            (count,),
        ).fetchall()
    return [row[0] for row in rows]


def _alerts(world: PublishWorld, kind: str, run_id: str) -> list[dict[str, Any]]:
    with psycopg.connect(world.sync_dsn, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute(
            "SELECT * FROM symphonics.alerts WHERE kind = %s AND run_id = %s", (kind, run_id)
        ).fetchall()


def _add_document(world: PublishWorld, external_id: str) -> None:
    """The app gets an additional proof for one intervention (as its users add one)."""
    with psycopg.connect(world.app_dsn) as conn:
        conn.execute(
            "INSERT INTO public.intervention_documents (intervention_id, type, name, url, created_at) "
            "SELECT id, 'additional_proof', 'Preuve supplémentaire', "
            "'https://app.workforce-automation.com/documents/' || external_id || '/late_proof.pdf', now() "
            "FROM public.interventions WHERE external_id = %s",
            (external_id,),
        )


def test_a_403_on_one_create_sets_that_row_aside_and_the_run_goes_on(world: PublishWorld) -> None:
    _validated()
    refused = _ready_ids(world, 2)
    for external_id in refused:
        world.sandbox.forbidden(external_id)  # every call about it
    result = run_pipeline("forbidden")
    assert result["publish"]["forbidden"] == 2
    rows = world.rows()
    assert {rows[external_id]["state"] for external_id in refused} == {"dead_letter"}
    assert {rows[external_id]["state_reason"] for external_id in refused} == {"partner_forbidden"}
    assert {rows[external_id]["last_http_status"] for external_id in refused} == {403}
    published = set(world.expected.external_ids_in(ExpectedState.PUBLISHED)) - set(refused)
    assert sorted(world.partner_external_ids()) == sorted(published)
    creates = len(world.creates())
    run_pipeline("again")
    assert len(world.creates()) == creates  # a dead letter is not sent again


def test_403s_on_distinct_rows_in_a_row_refuse_the_account(world: PublishWorld) -> None:
    from include.symphonics.publish import steps

    _validated()
    refused = _ready_ids(world, 3)
    for external_id in refused:
        world.sandbox.forbidden(external_id)
    with pytest.raises(SymphonicsAuthError, match="3 distinct resources"):
        steps.run_publish({}, run_id="account-refused")
    rows = world.rows()
    # The rows are given back as they were claimed, their attempt undone; nothing else was sent.
    assert [(rows[e]["state"], rows[e]["attempts"]) for e in refused] == [("ready", 0)] * 3
    assert world.states().get("published", 0) == 0
    assert len(world.creates()) == 3
    (alert,) = _alerts(world, "account_refused", "account-refused")
    assert alert["severity"] == "critical"
    assert alert["details"]["status"] == 403
    world.sandbox.clear_faults()
    run_pipeline("rights-fixed")
    assert world.states().get("published", 0) == world.expected.state_counts[ExpectedState.PUBLISHED]


def test_a_refused_token_stops_the_validation_with_the_rows_kept(world: PublishWorld) -> None:
    import json
    import os

    from include.symphonics.publish import steps

    steps.run_extract({}, run_id="token", run_type="manual", logical_date=None, schedule="*/15 * * * *")
    steps.run_prevalidate(run_id="token")
    waiting = world.states()["prevalidated"]
    connection = json.loads(os.environ["AIRFLOW_CONN_SYMPHONICS_DEFAULT"])
    world.monkeypatch.setenv("AIRFLOW_CONN_SYMPHONICS_DEFAULT", json.dumps({**connection, "password": "wrong"}))
    with pytest.raises(SymphonicsAuthError, match="client credentials"):
        steps.run_partner_validation(run_id="token")
    assert world.states()["prevalidated"] == waiting
    assert _alerts(world, "account_refused", "token")[0]["details"]["task"] == "validate_with_partner"


def test_a_403_on_a_pdl_sets_its_rows_aside(world: PublishWorld) -> None:
    from include.symphonics.publish import steps

    steps.run_extract({}, run_id="pdl", run_type="manual", logical_date=None, schedule="*/15 * * * *")
    steps.run_prevalidate(run_id="pdl")
    with psycopg.connect(world.sync_dsn) as conn:
        (pdl,) = conn.execute(
            "SELECT payload->'installation'->>'pdl' FROM symphonics.interventions_ledger "
            "WHERE state = 'prevalidated' AND payload->'installation'->>'pdl' IS NOT NULL ORDER BY id LIMIT 1"
        ).fetchone()  # type: ignore[misc]
    world.sandbox.forbidden(pdl)
    result = steps.run_partner_validation(run_id="pdl")
    assert result["reasons"].get("partner_forbidden", 0) >= 1
    rows = world.rows()
    refused = {e for e, row in rows.items() if (row["payload"] or {}).get("installation", {}).get("pdl") == pdl}
    assert {rows[e]["state"] for e in refused} == {"dead_letter"}
    assert {rows[e]["state_reason"] for e in refused} == {"partner_forbidden"}
    assert result["ready"] > 0  # the other rows went on


def test_a_404_on_the_patch_of_a_published_row_is_a_dead_letter_never_created_again(world: PublishWorld) -> None:
    run_pipeline("first")
    (external_id,) = world.expected.external_ids_in(ExpectedState.PUBLISHED)[:1]
    world.sandbox.daily_reset()  # "test data is reset daily": the partner forgets what it held
    _add_document(world, external_id)
    creates = len(world.creates())
    result = run_pipeline("after-reset")
    row = world.rows()[external_id]
    assert (row["state"], row["state_reason"], row["last_http_status"]) == ("dead_letter", "partner_not_found", 404)
    assert result["publish"]["not_found"] == 1
    assert len(world.creates()) == creates  # never created again


def test_a_201_without_an_id_is_held_with_its_reason_not_a_broken_check(world: PublishWorld) -> None:
    from include.symphonics.client import SymphonicsClient

    _validated()
    (external_id,) = _ready_ids(world, 1)

    def create_without_id(self: SymphonicsClient, payload: Any, *, priority: str = "publish") -> CreateResult:
        return CreateResult(outcome=CreateOutcome.CREATED, symphonics_id=None, external_id=payload["external_id"])

    world.monkeypatch.setattr(SymphonicsClient, "create_intervention", create_without_id)
    from include.symphonics.publish import steps

    steps.run_publish({"external_ids": [external_id]}, run_id="no-id")
    row = world.rows()[external_id]
    assert (row["state"], row["state_reason"], row["symphonics_id"]) == (
        "conflict_unresolved",
        "created_id_unknown",
        None,
    )


def test_a_row_left_sending_by_crashes_is_never_sent_more_than_max_attempts(world: PublishWorld) -> None:
    _validated()
    (external_id,) = _ready_ids(world, 1)
    with psycopg.connect(world.sync_dsn) as conn:
        conn.execute(
            "UPDATE symphonics.interventions_ledger SET state = 'sending', attempts = 5 WHERE external_id = %s",
            (external_id,),
        )
    run_pipeline("crashed-too-often")
    row = world.rows()[external_id]
    assert (row["state"], row["state_reason"], row["attempts"]) == ("dead_letter", "too_many_attempts", 5)
    assert external_id not in world.partner_external_ids()


@pytest.mark.parametrize("conflict_mode", ["bare", "with_id"])
def test_a_document_added_while_sending_is_patched_once_published(world: PublishWorld, conflict_mode: str) -> None:
    world.sandbox.configure(conflict_mode=conflict_mode)
    run_pipeline("first")
    (external_id,) = world.expected.external_ids_in(ExpectedState.PUBLISHED)[:1]
    with psycopg.connect(world.sync_dsn) as conn:
        # A crash after the create arrived, before its answer was recorded: the row stays `sending`.
        conn.execute(
            "UPDATE symphonics.interventions_ledger SET state = 'sending', attempts = 1, symphonics_id = NULL "
            "WHERE external_id = %s",
            (external_id,),
        )
    _add_document(world, external_id)
    run_pipeline("changed-while-sending")  # the extraction keeps `sending`; the publisher resolves it
    row = world.rows()[external_id]
    if conflict_mode == "bare":
        # No id yet: the row waits for it, the change kept (flagged) until then.
        assert (row["state"], row["source_changed_while_held"]) == ("conflict_unresolved", True)
        (held,) = [item for item in world.sandbox.interventions() if item["external_id"] == external_id]
        with psycopg.connect(world.sync_dsn) as conn:
            conn.execute(
                "UPDATE symphonics.interventions_ledger SET state = 'published', state_reason = NULL, "
                "symphonics_id = %s WHERE external_id = %s",
                (held["id"], external_id),
            )
    run_pipeline("compared-again")
    row = world.rows()[external_id]
    assert (row["state"], row["source_changed_while_held"]) == ("updated", False)
    (patch,) = world.patches()
    assert patch["path"].endswith(row["symphonics_id"])
    assert any(document["url"].endswith("/late_proof.pdf") for document in row["sent_documents"])


def test_403s_on_distinct_pdls_across_batches_refuse_the_account_and_keep_every_row(world: PublishWorld) -> None:
    from include.symphonics.publish import steps

    world.monkeypatch.setenv("SYMPHONICS_PUBLISH_BATCH_SIZE", "1")  # one row a batch: the streak spans batches
    steps.run_extract({}, run_id="pdls", run_type="manual", logical_date=None, schedule="*/15 * * * *")
    steps.run_prevalidate(run_id="pdls")
    with psycopg.connect(world.sync_dsn) as conn:
        first = conn.execute(
            "SELECT external_id, payload->'installation'->>'pdl' FROM symphonics.interventions_ledger "
            "WHERE state = 'prevalidated' ORDER BY id LIMIT 3"
        ).fetchall()
    pdls = [pdl for _, pdl in first]
    if None in pdls or len(set(pdls)) < 3:
        pytest.skip("the demo's first rows need three distinct PDLs for this test")
    for pdl in pdls:
        world.sandbox.forbidden(pdl)
    with pytest.raises(SymphonicsAuthError, match="3 distinct resources"):
        steps.run_partner_validation(run_id="pdls")
    rows = world.rows()
    assert [rows[external_id]["state"] for external_id, _ in first] == ["prevalidated"] * 3
    assert world.states().get("dead_letter", 0) == 0
