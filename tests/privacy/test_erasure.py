"""Erasure on request: a person's e-mail, name, phone and address are found in no column of any table of the sync
database afterwards, the analysts' counts do not move, and no later publish run sends anything about them."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

from include.symphonics.core.normalise import lookup_address, lookup_key
from include.symphonics.db import roles
from include.symphonics.privacy import __main__ as privacy_cli
from include.symphonics.privacy.minimise import minimise_finished_rows
from include.symphonics.reconcile import steps as reconcile_steps
from include.symphonics_demo import ExpectedState
from tests.fixtures.stack import TestStack
from tests.privacy.conftest import connect_sync_as
from tests.privacy.scan import columns_holding
from tests.publish.conftest import PublishWorld, run_pipeline

pytestmark = pytest.mark.integration

PERSON = {
    "first_name": "Zéphyrine",
    "last_name": "Quarantavasseur",
    "email": "Zephyrine.Quarantavasseur@exemple-effacement.fr",
    "phone": "06 98 76 54 32",
}
#: Every form of the phone the sync could hold: as typed, digits only, E.164.
PHONE_FORMS = ("06 98 76 54 32", "0698765432", "+33698765432")


def _rows(dsn: str, statement: str, *params: Any) -> list[dict[str, Any]]:
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        return conn.execute(statement, params).fetchall()  # type: ignore[arg-type]


def _pick_person(world: PublishWorld) -> tuple[int, list[str], list[str], str]:
    """A customer whose interventions all get published with a PDL of their own and an address nobody else has;
    renamed in the app to values found nowhere else. Returns (customer id, external ids, addresses, control id):
    the control is another published intervention."""
    published = {eid for eid, o in world.expected.outcomes.items() if o.state is ExpectedState.PUBLISHED}
    rows = _rows(
        world.app_dsn,
        "SELECT i.customer_id, i.external_id, i.address, i.pdl, "
        "       (SELECT count(*) FROM public.interventions AS o "
        "         WHERE o.address = i.address AND o.customer_id <> i.customer_id) AS shared "
        "  FROM public.interventions AS i ORDER BY i.customer_id, i.id",
    )
    by_customer: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        by_customer.setdefault(row["customer_id"], []).append(row)
    candidates = [
        (customer_id, items)
        for customer_id, items in by_customer.items()
        if all(
            item["external_id"] in published
            and item["shared"] == 0
            and len("".join((item["pdl"] or "").split())) == 14
            and item["address"]
            for item in items
        )
    ]
    assert candidates, "the demo data set has no customer to erase"
    customer_id, items = max(candidates, key=lambda candidate: len(candidate[1]))
    control = next(eid for eid in sorted(published) if eid not in {item["external_id"] for item in items})
    with psycopg.connect(world.app_dsn) as conn:
        conn.execute(
            "UPDATE public.customers SET first_name = %s, last_name = %s, email = %s, phone = %s WHERE id = %s",
            (PERSON["first_name"], PERSON["last_name"], PERSON["email"], PERSON["phone"], customer_id),
        )
    return customer_id, [item["external_id"] for item in items], [item["address"] for item in items], control


def _plant_free_text(world: PublishWorld, external_id: str, symphonics_id: str, address: str) -> None:
    """What the partner and the pipeline may write about a person outside the ledger's records: a webhook whose
    notes and raw body name them, a cached address lookup, an alert."""
    full_name = f"{PERSON['first_name']} {PERSON['last_name']}"
    notes = (
        f"Cliente {full_name} ({PERSON['email']}, {PERSON['phone']}) absente au {address}; "
        f"rappeler Mme {PERSON['last_name']}"
    )
    body = json.dumps(
        {
            "event": "intervention.status_changed",
            "intervention_id": symphonics_id,
            "external_id": external_id,
            "new_status": "approved",
            "notes": notes,
        },
        ensure_ascii=False,
    )
    installation = {"address": address, "postal_code": "75001", "city": "Paris"}
    with psycopg.connect(world.sync_dsn) as conn:
        conn.execute(
            "INSERT INTO symphonics.webhook_events (received_at, event_type, event_at, intervention_id, external_id, "
            " previous_status, new_status, notes, raw_body, dedup_key, signature_secret_used) "
            "VALUES (now(), 'intervention.status_changed', now() - interval '1 minute', %s, %s, 'submitted', "
            " 'approved', %s, %s, %s, 'current')",
            (symphonics_id, external_id, notes, body, hashlib.sha256(body.encode()).digest()),
        )
        conn.execute(
            "INSERT INTO symphonics.pdl_lookups (lookup_key, address, customer_name, found, pdl, confidence, "
            " fetched_at, expires_at) "
            "VALUES (%s, %s, %s, true, '12345678901234', 0.99, now(), now() + interval '1 day')",
            (
                lookup_key(lookup_address(installation), PERSON["last_name"]),
                json.dumps({"street": address, "postal_code": "75001", "city": "Paris"}),
                PERSON["last_name"],
            ),
        )
        conn.execute(
            "INSERT INTO symphonics.alerts (kind, severity, message, details) VALUES ('planted', 'info', %s, %s)",
            (f"check {PERSON['email']}", json.dumps({"customer": full_name})),
        )


def _analyst_counts(dsn: str) -> dict[str, Any]:
    counts: dict[str, Any] = {}
    with psycopg.connect(dsn) as conn:
        for view in ("interventions_current", "rejections", "time_to_approval", "reconciliation_snapshots"):
            statement = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("analytics", view))
            counts[view] = conn.execute(statement).fetchone()[0]  # type: ignore[index]
        counts["by_ledger_state"] = Counter(
            dict(
                conn.execute("SELECT ledger_state, count(*) FROM analytics.interventions_current GROUP BY 1").fetchall()
            )
        )
        counts["by_category"] = Counter(
            dict(
                conn.execute("SELECT category, count(*) FROM analytics.reconciliation_snapshots GROUP BY 1").fetchall()
            )
        )
        counts["ledger_states"] = Counter(
            dict(conn.execute("SELECT state, count(*) FROM symphonics.interventions_ledger GROUP BY 1").fetchall())
        )
    return counts


def _reconcile(run_id: str) -> None:
    reconcile_steps.run_apply_webhooks(run_id=run_id)
    reconcile_steps.run_copy_app_state(run_id=run_id)
    reconcile_steps.run_build_snapshot({}, logical_date=datetime.now(UTC), run_id=run_id)


def test_an_erased_person_is_found_nowhere_counts_stay_and_nothing_is_sent_again(
    reconcile_world: PublishWorld, pipeline_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    world = reconcile_world
    customer_id, external_ids, addresses, control = _pick_person(world)
    run_pipeline("first")
    ledger = world.rows()
    assert all(ledger[eid]["state"] == "published" for eid in external_ids)
    minimise_finished_rows(pipeline_dsn)
    _plant_free_text(world, external_ids[0], ledger[external_ids[0]]["symphonics_id"], addresses[0])
    _reconcile("reconcile-before")
    searched = [PERSON["email"], PERSON["first_name"], PERSON["last_name"], *PHONE_FORMS, *addresses]
    before = columns_holding(world.sync_dsn, searched)
    # The scan can fail: before the erasure it finds every kind of value.
    assert {PERSON["email"], PERSON["first_name"], PERSON["last_name"], PERSON["phone"], addresses[0]} <= set(before)
    counts_before = _analyst_counts(world.sync_dsn)

    assert (
        privacy_cli.main(
            [
                "erase",
                "--email",
                PERSON["email"].upper(),
                "--reference",
                "DPO-2026-017",
                "--sync-dsn",
                pipeline_dsn,
                "--app-dsn",
                world.app_dsn,
            ]
        )
        == 0
    )
    printed = json.loads(capsys.readouterr().out)
    assert printed["interventions"] == len(external_ids)
    # What the DPO passes on to the partner: its ids of the person's interventions.
    assert printed["symphonics_ids"] == sorted(ledger[eid]["symphonics_id"] for eid in external_ids)

    assert columns_holding(world.sync_dsn, searched) == {}
    assert _analyst_counts(world.sync_dsn) == counts_before
    record = _rows(world.sync_dsn, "SELECT * FROM symphonics.privacy_erasures")
    assert len(record) == 1
    assert record[0]["finished_at"] is not None
    assert record[0]["subject_kind"] == "email"
    assert record[0]["reference"] == "DPO-2026-017"
    assert record[0]["interventions"] == len(external_ids)
    assert record[0]["rows_changed"]["symphonics.interventions_ledger"] == len(external_ids)
    assert str(customer_id) not in json.dumps(record[0]["rows_changed"]).split('"')
    erased = {eid: row for eid, row in world.rows().items() if eid in external_ids}
    assert all(row["erased_at"] is not None and row["state"] == "published" for row in erased.values())
    assert all(row["source_fingerprint"] == ledger[eid]["source_fingerprint"] for eid, row in erased.items())

    # The app still holds the person and gets a late document on each of their interventions, and on a control.
    with psycopg.connect(world.app_dsn) as conn:
        conn.execute(
            "INSERT INTO public.intervention_documents (intervention_id, type, name, url, created_at) "
            "SELECT id, 'additional_proof', 'Preuve - ' || external_id, "
            "       'https://docs.example/' || external_id || '/late.pdf', now() "
            "  FROM public.interventions WHERE external_id = ANY(%s)",
            ([*external_ids, control],),
        )
    creates, patches = len(world.creates()), world.patches()
    run_pipeline("after-erasure")
    run_pipeline("forced", external_ids=external_ids)
    new_patches = [call["path"] for call in world.patches()[len(patches) :]]
    assert len(world.creates()) == creates
    # The control proves the run would have sent a PATCH: exactly one, to the control only.
    assert new_patches == [f"/crm/interventions/{world.rows()[control]['symphonics_id']}"]
    assert columns_holding(world.sync_dsn, searched) == {}
    assert {eid: row["state"] for eid, row in world.rows().items() if eid in external_ids} == dict.fromkeys(
        external_ids, "published"
    )

    # Asked again (a retried task): nothing more to change, a second record.
    assert (
        privacy_cli.main(
            ["erase", "--customer-id", str(customer_id), "--sync-dsn", pipeline_dsn, "--app-dsn", world.app_dsn]
        )
        == 0
    )
    assert columns_holding(world.sync_dsn, searched) == {}


def test_the_erasure_dag_erases_by_customer_id_and_refuses_a_bad_request(
    world: PublishWorld, pipeline_dsn: str
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    from tests.dags.test_dag_integrity import DAGS_DIR

    customer_id, external_ids, addresses, _ = _pick_person(world)
    run_pipeline("first")
    bag = DagBag(dag_folder=str(DAGS_DIR / "symphonics_privacy_erasure.py"))
    dag = bag.dags["symphonics_privacy_erasure"]
    run = dag.test(run_conf={"customer_id": customer_id, "reference": "T-42"})
    assert run.state == "success"
    assert columns_holding(world.sync_dsn, [PERSON["email"], PERSON["last_name"], *addresses]) == {}
    record = _rows(world.sync_dsn, "SELECT * FROM symphonics.privacy_erasures ORDER BY id DESC LIMIT 1")[0]
    assert record["subject_kind"] == "customer_id"
    assert record["requested_by"] == run.run_id
    assert record["interventions"] == len(external_ids)

    bad = dag.test(run_conf={"email": "nobody"})
    assert bad.state == "failed"
    assert {ti.task_id: ti.try_number for ti in bad.get_task_instances()} == {"erase": 1}


def test_a_permission_the_role_lacks_fails_the_erasure_at_once_without_retry(
    world: PublishWorld, stack: TestStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A permission does not come back by waiting: the task fails on its first try, naming the error."""
    from airflow.dag_processing.dagbag import DagBag

    from tests.dags.test_dag_integrity import DAGS_DIR

    customer_id, _, _, _ = _pick_person(world)
    # The dashboard's role reads but never writes the sync database: the erasure's first write is refused.
    records = len(_rows(world.sync_dsn, "SELECT id FROM symphonics.privacy_erasures"))
    with connect_sync_as(stack, world.sync_dsn, monkeypatch, roles.DASHBOARD_ROLE):
        bag = DagBag(dag_folder=str(DAGS_DIR / "symphonics_privacy_erasure.py"))
        run = bag.dags["symphonics_privacy_erasure"].test(run_conf={"customer_id": customer_id})
    assert run.state == "failed"
    assert {ti.task_id: ti.try_number for ti in run.get_task_instances()} == {"erase": 1}
    assert len(_rows(world.sync_dsn, "SELECT id FROM symphonics.privacy_erasures")) == records
