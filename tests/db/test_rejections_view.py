"""``analytics.rejections`` (migration 0007): every refusal once, who decided it, personal data masked."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from include.symphonics.db import migrate

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def _ledger(
    conn: psycopg.Connection, external_id: str, state: str, reason: str | None, detail: str | None, at: datetime
) -> None:
    conn.execute(
        "INSERT INTO symphonics.interventions_ledger (external_id, app_intervention_id, app_status, app_updated_at,"
        " source, source_fingerprint, state, state_reason, state_detail, state_changed_at, symphonics_id)"
        " VALUES (%s, 1, 'completed', %s, '{}', 'fp', %s, %s, %s, %s, %s)",
        (external_id, at, state, reason, detail, at, "sym_9" if state == "published" else None),
    )


def _history(conn: psycopg.Connection, external_id: str, source: str, to_status: str, notes: str, at: datetime) -> None:
    conn.execute(
        "INSERT INTO symphonics.status_history (external_id, to_status, source, notes, occurred_at)"
        " VALUES (%s, %s, %s, %s, %s)",
        (external_id, to_status, source, notes, at),
    )


@pytest.fixture
def view_rows(make_scratch_database: Callable[[], str]) -> dict[str, list[dict[str, Any]]]:
    url = make_scratch_database()
    migrate.upgrade(url)
    with psycopg.connect(url) as conn:
        # Refused now, and already recorded by a reconciliation: one row, with the partner's message.
        _ledger(conn, "int_1", "rejected_validation", "pdl_invalid", "PDL 12345678901234 inconnu", NOW)
        _history(conn, "int_1", "publish", "rejected_validation", "pdl_invalid", NOW)
        # Refused by our threshold on the partner's lookup.
        _ledger(conn, "int_2", "rejected_validation", "pdl_lookup_low_confidence", "lookup confidence 0.41", NOW)
        # Refused last week, fixed and published since: the refusal stays, from the history.
        _ledger(conn, "int_3", "published", None, None, NOW)
        _history(conn, "int_3", "publish", "rejected_validation", "installer_inactive", NOW - timedelta(days=3))
        # The partner rejected the published file; its notes name the customer's e-mail and phone.
        _history(conn, "int_3", "webhook", "rejected", "Contact jean.dupont@example.fr au 06 12 34 56 78", NOW)
        # Not refusals: a local rule, a publication.
        _ledger(conn, "int_4", "invalid", "missing_document", None, NOW)
        _history(conn, "int_3", "publish", "published", "", NOW)
    with psycopg.connect(url, row_factory=dict_row) as conn:
        rows = conn.execute("SELECT * FROM analytics.rejections ORDER BY external_id, rejected_at").fetchall()
    by_id: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_id.setdefault(row["external_id"], []).append(row)
    return by_id


def test_every_refusal_once_with_who_decided(view_rows: dict[str, list[dict[str, Any]]]) -> None:
    assert sorted(view_rows) == ["int_1", "int_2", "int_3"]
    summary = {
        key: [(r["rejection_kind"], r["decided_by"], r["reason"], r["source"]) for r in rows]
        for key, rows in view_rows.items()
    }
    assert summary["int_1"] == [("validation", "partner", "pdl_invalid", "publish")]
    assert summary["int_2"] == [("validation", "sync", "pdl_lookup_low_confidence", "publish")]
    assert summary["int_3"][0] == ("validation", "partner", "installer_inactive", "publish")
    assert summary["int_3"][1][:2] == ("intervention", "partner")


def test_personal_data_is_masked_in_reasons_and_messages(view_rows: dict[str, list[dict[str, Any]]]) -> None:
    assert view_rows["int_1"][0]["partner_message"] == "PDL **********1234 inconnu"
    rejected_file = view_rows["int_3"][1]
    assert rejected_file["reason"] == "Contact j***@example.fr au ******78"
    assert rejected_file["partner_message"] == rejected_file["reason"]
    assert view_rows["int_2"][0]["partner_message"] == "lookup confidence 0.41"


@pytest.fixture
def rechecked_rows(make_scratch_database: Callable[[], str]) -> dict[str, list[dict[str, Any]]]:
    """Refusals re-checked, unchanged or not (migration 0016: one refusal is one row until the answer changes)."""
    url = make_scratch_database()
    migrate.upgrade(url)
    day = timedelta(days=1)
    with psycopg.connect(url) as conn:
        # Refused, recorded; re-checked twice (passing through pending, recorded mid-way), refused the same way.
        _history(conn, "same", "publish", "rejected_validation", "pdl_invalid", NOW - 3 * day)
        _history(conn, "same", "publish", "pending", "", NOW - 2 * day)
        _history(conn, "same", "publish", "rejected_validation", "pdl_invalid", NOW - 2 * day + timedelta(minutes=1))
        _ledger(conn, "same", "rejected_validation", "pdl_invalid", "PDL inconnu", NOW)
        # Refused, then refused for another reason: the answer changed, two refusals.
        _history(conn, "other", "publish", "rejected_validation", "pdl_invalid", NOW - 2 * day)
        _ledger(conn, "other", "rejected_validation", "installer_unknown", "installateur inconnu", NOW)
        # Refused, fixed and ready, refused again for the same reason: two refusals.
        _history(conn, "again", "publish", "rejected_validation", "pdl_invalid", NOW - 3 * day)
        _history(conn, "again", "publish", "ready", "", NOW - 2 * day)
        _ledger(conn, "again", "rejected_validation", "pdl_invalid", "PDL inconnu", NOW)
    with psycopg.connect(url, row_factory=dict_row) as conn:
        rows = conn.execute("SELECT * FROM analytics.rejections ORDER BY external_id, rejected_at").fetchall()
    by_id: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_id.setdefault(row["external_id"], []).append(row)
    return by_id


def test_an_unchanged_refusal_rechecked_is_one_row_from_its_first_time(
    rechecked_rows: dict[str, list[dict[str, Any]]],
) -> None:
    [same] = rechecked_rows["same"]
    assert same["rejected_at"] == NOW - timedelta(days=3)
    assert same["reason"] == "pdl_invalid"
    assert same["partner_message"] == "PDL inconnu"  # the ledger's, the latest


def test_a_changed_answer_is_a_new_refusal(rechecked_rows: dict[str, list[dict[str, Any]]]) -> None:
    assert [row["reason"] for row in rechecked_rows["other"]] == ["pdl_invalid", "installer_unknown"]
    assert [row["rejected_at"] for row in rechecked_rows["again"]] == [NOW - timedelta(days=3), NOW]
