"""Retention: exactly the finished rows past the limit lose their personal data, in batches; the rest is untouched."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from include.symphonics.core.states import WORK_STATES
from include.symphonics.privacy.minimise import minimise_finished_rows
from include.symphonics.privacy.retention import apply_retention
from tests.publish.conftest import clean_pipeline_tables

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
FINISHED = (
    "published",
    "updated",
    "invalid",
    "rejected_validation",
    "out_of_scope",
    "dead_letter",
    "changed_after_publish",
    "conflict_unresolved",
)
WORKING = ("pending", "prevalidated", "ready", "sending", "failed_retryable")


def _record(n: int) -> dict[str, Any]:
    return {
        "external_id": f"int_{n:08d}",
        "status": "completed",
        "customer": {
            "first_name": f"Prénom{n}",
            "last_name": f"Nom{n}",
            "email": f"client{n}@exemple.fr",
            "phone": f"+3361234{n:04d}",
        },
        "installation": {"address": f"{n} rue des Tests", "postal_code": "69003", "city": "Lyon", "pdl": f"{n:014d}"},
        "installer": {"name": "Paul Roux", "email": "paul.roux@isol.fr", "company_id": "cmp_1"},
        "documents": [{"type": "invoice", "name": f"Facture - Prénom{n} Nom{n}", "url": f"https://d/{n}.pdf"}],
        "photos": [{"type": "before", "url": f"https://p/{n}.jpg", "latitude": 45.7, "longitude": 4.8}],
        "services": [{"code": "BAR-TH-171", "name": "PAC", "quantity": 1}],
    }


def _insert(conn: psycopg.Connection, n: int, state: str, age_days: float) -> None:
    record = json.dumps(_record(n), ensure_ascii=False)
    published = state in ("published", "updated")
    conn.execute(
        "INSERT INTO symphonics.interventions_ledger (external_id, app_intervention_id, app_status, app_updated_at, "
        " source, source_fingerprint, payload, sent_payload, sent_documents, state, state_reason, symphonics_id, "
        " changed_fields, last_error_message, last_error_code, state_detail, state_changed_at) "
        "VALUES (%(eid)s, %(n)s, 'completed', %(at)s, %(rec)s, 'fp' || %(n)s, %(rec)s, %(sent)s, "
        " %(docs)s, %(state)s, %(reason)s, %(sid)s, %(changed)s, %(error)s, %(code)s, "
        " CASE WHEN %(code)s::text IS NULL THEN 'local rule' ELSE %(error)s::text END, %(at)s)",
        {
            "eid": f"int_{n:08d}",
            "n": n,
            "at": NOW - timedelta(days=age_days),
            "rec": record,
            "sent": record if published else None,
            "docs": json.dumps(_record(n)["documents"] if published else [], ensure_ascii=False),
            "state": state,
            "reason": None
            if state in ("published", "updated", "pending", "prevalidated", "ready", "sending")
            else "partner_refused",
            "sid": f"sym_{n}" if published or state == "changed_after_publish" else None,
            "changed": json.dumps(
                {
                    "installation.address": {"sent": f"{n} rue des Tests", "now": "1 rue Neuve"},
                    "status": {"sent": "completed", "now": "cancelled"},
                }
            )
            if state == "changed_after_publish"
            else None,
            "error": f"client{n}@exemple.fr refused" if state == "dead_letter" else None,
            "code": "422" if state == "dead_letter" else None,
        },
    )


def test_retention_removes_exactly_the_finished_rows_past_the_limit(sync_dsn: str, pipeline_dsn: str) -> None:
    clean_pipeline_tables(sync_dsn)
    expected_removed: set[str] = set()
    n = 0
    with psycopg.connect(sync_dsn) as conn:
        for state in (*FINISHED, *WORKING):
            # Just inside the limit, just past it, long past it.
            for age in (89.9, 90.1, 400):
                n += 1
                _insert(conn, n, state, age)
                if state in FINISHED and age > 90:
                    expected_removed.add(f"int_{n:08d}")
        conn.execute(
            "INSERT INTO symphonics.pdl_lookups (lookup_key, address, customer_name, found, pdl, fetched_at, "
            " expires_at) VALUES ('old', '{}', 'Nom1', true, '1', %s, %s), ('new', '{}', 'Nom2', true, '2', %s, %s)",
            (NOW - timedelta(days=40), NOW - timedelta(days=10), NOW - timedelta(days=1), NOW + timedelta(days=29)),
        )
        conn.execute("TRUNCATE symphonics.webhook_rejections")
        conn.execute(
            "INSERT INTO symphonics.webhook_rejections (received_at, request_id, reason, status_code, remote_addr, "
            " user_agent) VALUES (%s, 'old', 'bad_signature', 401, '192.0.2.7', 'curl/8'), "
            " (%s, 'new', 'bad_signature', 401, '192.0.2.8', 'curl/8')",
            (NOW - timedelta(days=91), NOW - timedelta(days=89)),
        )
    with psycopg.connect(sync_dsn, row_factory=dict_row) as conn:
        before = {row["external_id"]: row for row in conn.execute("SELECT * FROM symphonics.interventions_ledger")}

    counts = apply_retention(pipeline_dsn, retention=timedelta(days=90), batch_size=4, now=NOW)

    with psycopg.connect(sync_dsn, row_factory=dict_row) as conn:
        after = {row["external_id"]: row for row in conn.execute("SELECT * FROM symphonics.interventions_ledger")}
        lookups = [row["lookup_key"] for row in conn.execute("SELECT lookup_key FROM symphonics.pdl_lookups")]
        senders = {
            row["request_id"]: row["remote_addr"]
            for row in conn.execute("SELECT request_id, remote_addr FROM symphonics.webhook_rejections")
        }
    removed = {eid for eid, row in after.items() if row["personal_data_removed_at"] is not None}
    assert removed == expected_removed
    assert counts.ledger_rows == len(expected_removed)
    assert counts.batches == -(-len(expected_removed) // 4)
    assert lookups == ["new"]
    assert senders == {"old": None, "new": "192.0.2.8"}
    for eid, row in after.items():
        n = int(eid.split("_")[1])
        text = json.dumps(
            [
                row["source"],
                row["payload"],
                row["sent_payload"],
                row["sent_documents"],
                row["changed_fields"],
                row["last_error_message"],
                row["state_detail"],
            ],
            ensure_ascii=False,
        )
        personal = (
            f"client{n}@",
            f'Nom{n}"',
            f"Prénom{n}",
            f"+3361234{n:04d}",
            f"{n} rue des Tests",
            f"{n:014d}",
            "Paul Roux",
            "https://p/",
        )
        if eid in expected_removed:
            assert [value for value in personal if value in text] == [], eid
            # The sync's own facts stay.
            for column in ("state", "state_reason", "symphonics_id", "source_fingerprint", "state_changed_at"):
                assert row[column] == before[eid][column]
            assert row["source"]["installation"]["postal_code"] == "69003"
            assert row["source"]["documents"] == [{"type": "invoice", "url": f"https://d/{n}.pdf"}]
            if row["state"] == "changed_after_publish":
                assert set(row["changed_fields"]) == {"installation.address", "status"}
                assert row["changed_fields"]["status"] == {"sent": "completed", "now": "cancelled"}
        else:
            assert row == before[eid], eid

    # A second pass finds nothing more.
    assert apply_retention(pipeline_dsn, retention=timedelta(days=90), batch_size=4, now=NOW).ledger_rows == 0


def test_the_lists_cover_every_state_at_work_and_only_those() -> None:
    assert set(WORKING) == set(WORK_STATES)


def test_minimisation_leaves_every_row_still_at_work_in_clear(sync_dsn: str, pipeline_dsn: str) -> None:
    # A row waiting for the partner's validation (prevalidated) still needs its PDL, address and e-mails in clear.
    clean_pipeline_tables(sync_dsn)
    with psycopg.connect(sync_dsn) as conn:
        for n, state in enumerate((*FINISHED, *WORKING), start=1):
            _insert(conn, n, state, 1)
    with psycopg.connect(sync_dsn, row_factory=dict_row) as conn:
        before = {row["external_id"]: row for row in conn.execute("SELECT * FROM symphonics.interventions_ledger")}

    assert minimise_finished_rows(pipeline_dsn, batch_size=3) == len(FINISHED)

    with psycopg.connect(sync_dsn, row_factory=dict_row) as conn:
        after = {row["external_id"]: row for row in conn.execute("SELECT * FROM symphonics.interventions_ledger")}
    at_work = {eid for eid, row in before.items() if row["state"] in WORKING}
    assert {before[eid]["state"] for eid in at_work} == set(WORKING)
    assert {eid for eid, row in after.items() if row["minimised_at"] is not None} == set(after) - at_work
    for eid in at_work:
        assert after[eid] == before[eid], (eid, before[eid]["state"])
        assert f"client{int(eid.split('_')[1])}@exemple.fr" in json.dumps(after[eid]["source"])
