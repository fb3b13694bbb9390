"""The erasure's index (migration 0017): the extraction hashes every customer id and e-mail an intervention carried,
an erasure finds the person through it (without the app), a key rotation rehashes every row, a backfill indexes
rows extracted before the index, and every table an erasure may have to reach is classified."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

from include.symphonics.core.subject_keys import SubjectKeys, load_subject_keys
from include.symphonics.privacy import __main__ as privacy_cli
from include.symphonics.privacy import subject_index
from include.symphonics.privacy.erasure import COVERAGE, FREE_TEXT_OF_ROWS, ROWS_OF_INTERVENTION
from include.symphonics.privacy.sqlfiles import query
from tests.fixtures.stack import TEST_SUBJECT_KEY
from tests.privacy.scan import columns_holding
from tests.privacy.test_erasure import PERSON, PHONE_FORMS, _pick_person, _plant_free_text, _reconcile
from tests.publish.conftest import PublishWorld, run_pipeline

pytestmark = pytest.mark.integration

#: A second key, appended by a rotation.
NEW_KEY = "test-subject-key-after-rotation-0123456789"


def _customers(app_dsn: str) -> dict[int, tuple[str, set[str]]]:
    """By customer id: their e-mail and their interventions' external ids, as the app holds them."""
    found: dict[int, tuple[str, set[str]]] = {}
    with psycopg.connect(app_dsn) as conn:
        for customer_id, email, external_id in conn.execute(
            "SELECT c.id, c.email, i.external_id FROM public.customers AS c "
            "JOIN public.interventions AS i ON i.customer_id = c.id"
        ):
            found.setdefault(int(customer_id), (str(email), set()))[1].add(str(external_id))
    return found


def _index(sync_dsn: str) -> set[tuple[int, bytes, str]]:
    with psycopg.connect(sync_dsn) as conn:
        rows = conn.execute("SELECT key_version, key_hash, external_id FROM symphonics.subject_keys").fetchall()
    return {(int(version), bytes(digest), str(eid)) for version, digest, eid in rows}


def _finds_every_customer(sync_dsn: str, app_dsn: str, keys: SubjectKeys) -> None:
    """Each customer's e-mail (in another case) and id find exactly their interventions."""
    with psycopg.connect(sync_dsn) as sync:
        for customer_id, (email, external_ids) in _customers(app_dsn).items():
            assert subject_index.find_interventions(sync, keys, email=email.upper()) == external_ids, customer_id
            assert subject_index.find_interventions(sync, keys, customer_id=customer_id) == external_ids


def test_every_table_with_text_is_classified_for_the_erasure(sync_dsn: str) -> None:
    with psycopg.connect(sync_dsn) as conn:
        rows = conn.execute(query("text_columns")).fetchall()
    tables = {(schema, table) for schema, table, *_ in rows}
    # privacy_erasures is left out by the catalogue query itself (no personal data by construction).
    assert tables - set(COVERAGE) == set(), "a new table: say in COVERAGE how an erasure reaches it"
    by_rows = {(schema, table) for (schema, table), how in COVERAGE.items() if how == ROWS_OF_INTERVENTION}
    with_external_id = {(schema, table) for schema, table, _, _, has_external_id in rows if has_external_id}
    assert by_rows <= with_external_id
    assert {(schema, table) for schema, table, _ in FREE_TEXT_OF_ROWS} <= by_rows


def test_every_customer_id_and_email_finds_exactly_their_interventions_even_after_an_edit(
    world: PublishWorld, pipeline_dsn: str
) -> None:
    run_pipeline("first")
    keys = load_subject_keys()
    _finds_every_customer(world.sync_dsn, world.app_dsn, keys)
    assert {version for version, _, _ in _index(world.sync_dsn)} == {1}
    # The index holds no clear value.
    assert columns_holding(world.sync_dsn, [TEST_SUBJECT_KEY]) == {}

    # A customer changes their e-mail in the app: the old one still finds the intervention re-extracted.
    customer_id, (old_email, external_ids) = next(iter(sorted(_customers(world.app_dsn).items())))
    with psycopg.connect(world.app_dsn) as conn:
        conn.execute(
            "UPDATE public.customers SET email = 'changed.address@exemple-index.fr' WHERE id = %s", (customer_id,)
        )
    run_pipeline("after-edit", external_ids=sorted(external_ids))
    with psycopg.connect(pipeline_dsn) as sync:
        assert subject_index.find_interventions(sync, keys, email=old_email) == external_ids
        assert subject_index.find_interventions(sync, keys, email="Changed.Address@exemple-index.fr") == external_ids
        assert subject_index.find_interventions(sync, keys, email="nobody@exemple-index.fr") == set()


def test_a_key_rotation_rehashes_every_row_and_lookups_find_the_same_people_meanwhile(
    world: PublishWorld, pipeline_dsn: str
) -> None:
    run_pipeline("first")
    before = _index(world.sync_dsn)
    rotated = SubjectKeys.parse(f"{TEST_SUBJECT_KEY}, {NEW_KEY}")
    assert rotated.version == 2
    # Half-way through (one batch): rows of both versions, every lookup still exact.
    assert subject_index.rehash(pipeline_dsn, rotated, batch_size=50, max_batches=1) == 50
    assert {version for version, _, _ in _index(world.sync_dsn)} == {1, 2}
    _finds_every_customer(world.sync_dsn, world.app_dsn, rotated)

    assert subject_index.rehash(pipeline_dsn, rotated, batch_size=50) == len(before) - 50
    after = _index(world.sync_dsn)
    assert {version for version, _, _ in after} == {2}
    assert len(after) == len(before)
    assert {digest for _, digest, _ in after}.isdisjoint({digest for _, digest, _ in before})
    _finds_every_customer(world.sync_dsn, world.app_dsn, rotated)
    assert subject_index.rehash(pipeline_dsn, rotated) == 0

    # The extraction hashes new rows with the new chain: a re-extraction adds nothing already there.
    world.monkeypatch.setenv(
        "AIRFLOW_CONN_SYMPHONICS_SUBJECT_KEYS",
        json.dumps({"conn_type": "generic", "password": f"{TEST_SUBJECT_KEY},{NEW_KEY}"}),
    )
    run_pipeline("after-rotation", **{"from": "2000-01-01T00:00:00Z", "force": True})
    assert _index(world.sync_dsn) == after


def test_the_backfill_indexes_rows_extracted_before_the_index(world: PublishWorld, pipeline_dsn: str) -> None:
    run_pipeline("first")
    indexed = _index(world.sync_dsn)
    with psycopg.connect(world.sync_dsn) as conn:
        conn.execute("TRUNCATE symphonics.subject_keys")
    assert privacy_cli.main(["index", "--sync-dsn", pipeline_dsn, "--app-dsn", world.app_dsn]) == 0
    assert _index(world.sync_dsn) == indexed
    assert privacy_cli.main(["index", "--sync-dsn", pipeline_dsn, "--app-dsn", world.app_dsn]) == 0
    assert _index(world.sync_dsn) == indexed


def test_an_erasure_by_customer_id_without_the_app_finds_the_person_by_the_index_and_leaves_nothing(
    reconcile_world: PublishWorld, pipeline_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The app has already deleted the customer (or is out of reach): the index alone finds their interventions,
    and partner notes that name them in a form no source knows are emptied all the same."""
    world = reconcile_world
    customer_id, external_ids, addresses, control = _pick_person(world)
    run_pipeline("first")
    ledger = world.rows()
    _plant_free_text(world, external_ids[0], ledger[external_ids[0]]["symphonics_id"], addresses[0])
    nickname = "Mme Zéphy Q. du troisième"
    other_note = "Client absent, rappeler demain"
    with psycopg.connect(world.sync_dsn) as conn:
        for external_id, note in ((external_ids[-1], nickname), (control, other_note)):
            conn.execute(
                "INSERT INTO symphonics.status_history (external_id, symphonics_id, source, event_kind, to_status, "
                " occurred_at, notes) VALUES (%s, %s, 'poll', 'status', 'approved', now(), %s)",
                (external_id, ledger[external_id]["symphonics_id"], note),
            )
    _reconcile("reconcile-before")
    searched = [PERSON["email"], PERSON["first_name"], PERSON["last_name"], *PHONE_FORMS, *addresses, nickname]
    assert {PERSON["email"], PERSON["last_name"], nickname} <= set(columns_holding(world.sync_dsn, searched))

    assert privacy_cli.main(["erase", "--customer-id", str(customer_id), "--no-app", "--sync-dsn", pipeline_dsn]) == 0
    printed: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert printed["interventions"] == len(external_ids)
    assert columns_holding(world.sync_dsn, searched) == {}
    # Nothing of another person's rows was touched, and the person's hashes are gone with their data.
    assert "symphonics.status_history.notes" in columns_holding(world.sync_dsn, [other_note])[other_note]
    with psycopg.connect(world.sync_dsn) as conn:
        left = conn.execute(
            "SELECT count(*) FROM symphonics.subject_keys WHERE external_id = ANY(%s)", (external_ids,)
        ).fetchone()
    assert left == (0,)
    assert all(row["erased_at"] is not None for eid, row in world.rows().items() if eid in external_ids)
