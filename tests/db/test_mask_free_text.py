"""Migration 0021: one masking function for free text (e-mails, PDLs, French phone numbers in every format), used by
``analytics.interventions_current``: an analyst reads the partner's notes masked, old snapshots included."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest

from include.symphonics.db import migrate, roles
from tests.fixtures.roles import as_login, login_in
from tests.fixtures.stack import TestStack

pytestmark = pytest.mark.integration

#: A partner note carrying a customer's personal data, in the shapes partners type them.
NOTE = (
    "Client joignable au 06 12 34 56 78 ou 06.12.34.56.79, fixe 01-23-45-67-80, portable +33 6 12 34 56 81, "
    "+33 (0)6 12 34 56 82, 0033 6 12 34 56 83, 0033612345684, +33612345685, 0612345686; "
    "mail jeanne.dupont@example.fr, PDL 12345678901234."
)
CLEAR = [
    "06 12 34 56 78",
    "06.12.34.56.79",
    "01-23-45-67-80",
    "6 12 34 56 81",
    "6 12 34 56 82",
    "6 12 34 56 83",
    "612345684",
    "612345685",
    "0612345686",
    "jeanne.dupont",
    "12345678901234",
]


def _mask(url: str, text: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT analytics.mask_personal_data(%s)", (text,)).fetchone()
    assert row is not None
    return str(row[0])


@pytest.fixture
def migrated(make_scratch_database: Callable[[], str]) -> str:
    url = make_scratch_database()
    migrate.upgrade(url, "0013")
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO symphonics.app_interventions_copy (external_id, app_updated_at, app_intervention_id, status)"
            " VALUES ('int_note', now(), 1, 'completed')"
        )
        conn.execute(
            "INSERT INTO symphonics.intervention_sync_state (external_id, partner_status, partner_notes)"
            " VALUES ('int_note', 'rejected', %s)",
            (NOTE,),
        )
        conn.execute(
            "INSERT INTO analytics.reconciliation_snapshots (snapshot_date, external_id, as_of, category,"
            " ledger_state, partner_notes) VALUES (current_date, 'int_note', now(), 'rejected', 'published', %s)",
            (NOTE,),
        )
    migrate.upgrade(url, "0021")
    return url


def test_every_french_phone_format_e_mail_and_pdl_is_masked(migrated: str) -> None:
    masked = _mask(migrated, NOTE)

    assert not [clear for clear in CLEAR if clear in masked], masked
    for kept in ("******78", "******86", "j***@example.fr", "**********1234", "Client joignable au"):
        assert kept in masked
    # Ids, dates and amounts are not phone numbers.
    assert _mask(migrated, "int_000123 le 2026-12-01, 1 250,00 EUR") == "int_000123 le 2026-12-01, 1 250,00 EUR"


def test_the_analyst_reads_a_masked_note(stack: TestStack, migrated: str) -> None:
    with (
        login_in(stack.server, roles.ANALYST_ROLE) as (login, password),
        psycopg.connect(as_login(migrated, login, password)) as conn,
    ):
        current = conn.execute(
            "SELECT partner_notes FROM analytics.interventions_current WHERE external_id = 'int_note'"
        ).fetchone()
        snapshot = conn.execute(
            "SELECT partner_notes FROM analytics.reconciliation_snapshots WHERE external_id = 'int_note'"
        ).fetchone()

    assert current is not None
    assert snapshot is not None
    for note in (current[0], snapshot[0]):
        assert not [clear for clear in CLEAR if clear in note], note
        assert "******78" in note


def test_the_snapshots_stay_immutable_after_the_masking(migrated: str) -> None:
    with psycopg.connect(migrated) as conn, pytest.raises(psycopg.errors.IntegrityConstraintViolation):
        conn.execute("UPDATE analytics.reconciliation_snapshots SET partner_notes = 'x'")
