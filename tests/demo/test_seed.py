"""The seeded data set: deterministic, and each intervention ends where the expectation function says.

The classifier below reads the database the way the pipeline and the partner's sandbox will (the documented
local rules, then the sandbox's deterministic rules), independently of the generator's code.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import phonenumbers
import psycopg
import pytest
from psycopg import sql

from include.symphonics_demo import Case, ExpectedState, Reason, expected_outcomes
from include.symphonics_demo.app_db import APP_TABLES
from include.symphonics_demo.generator import seed_database
from include.symphonics_demo.pools import RESERVED_EMAIL_PREFIXES

N = 600
SEED = 20250325
PDL_PATTERN = re.compile(r"^[0-9]{14}$")
REQUIRED_DOCUMENTS = {"invoice", "attestation_honneur", "contract"}


def _checksums(dsn: str) -> dict[str, str]:
    with psycopg.connect(dsn) as conn:
        return {
            table: str(
                conn.execute(
                    sql.SQL("SELECT md5(string_agg(t::text, '|' ORDER BY t.id)) FROM {} AS t").format(
                        sql.Identifier(table)
                    )
                ).fetchone()
            )
            for table in APP_TABLES
        }


def test_same_seed_gives_identical_tables(make_scratch_database: Callable[[], str]) -> None:
    first, second, other = make_scratch_database(), make_scratch_database(), make_scratch_database()
    seed_database(first, interventions=N, seed=SEED)
    seed_database(second, interventions=N, seed=SEED)
    seed_database(other, interventions=N, seed=SEED + 1)
    assert _checksums(first) == _checksums(second)
    assert all(_checksums(first)[table] != _checksums(other)[table] for table in ("customers", "interventions"))


@dataclass
class _Row:
    id: int
    external_id: str
    status: str
    completed_at: object
    address: str | None
    postal_code: str | None
    city: str | None
    pdl: str | None
    phone: str | None
    installer_email: str
    symphonics_company_id: str | None
    documents: set[str]
    photos: dict[str, tuple[float | None, float | None]]


def _load(dsn: str) -> list[_Row]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            """
            SELECT i.id, i.external_id, i.status, i.completed_at, i.address, i.postal_code, i.city, i.pdl,
                   cu.phone, ins.email, co.symphonics_company_id,
                   coalesce((SELECT array_agg(d.type) FROM intervention_documents d
                              WHERE d.intervention_id = i.id), '{}'),
                   coalesce((SELECT json_object_agg(p.type, json_build_array(p.latitude, p.longitude))
                               FROM intervention_photos p WHERE p.intervention_id = i.id), '{}')
              FROM interventions i
              JOIN customers cu ON cu.id = i.customer_id
              JOIN installers ins ON ins.id = i.installer_id
              JOIN companies co ON co.id = ins.company_id
             ORDER BY i.id
            """
        ).fetchall()
    return [
        _Row(*row[:11], documents=set(row[11]), photos={k: (v[0], v[1]) for k, v in row[12].items()}) for row in rows
    ]


def _phone_ok(phone: str | None) -> bool:
    if not phone:
        return False
    try:
        number = phonenumbers.parse(phone, "FR")
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number)


def _km(a: tuple[float | None, float | None], b: tuple[float | None, float | None]) -> float:
    lat1, lon1, lat2, lon2 = (math.radians(float(x or 0)) for x in (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371 * math.asin(math.sqrt(h))


def _classify(row: _Row) -> tuple[ExpectedState, Reason | None]:
    """The documented local rules (in precedence order), then the partner sandbox's rules."""
    if row.status != "completed":
        return ExpectedState.OUT_OF_SCOPE, Reason.NOT_COMPLETED
    address_usable = bool(row.address and row.city and row.postal_code and re.fullmatch(r"[0-9]{5}", row.postal_code))
    pdl_ok = bool(row.pdl and PDL_PATTERN.match(row.pdl.replace(" ", "")))
    local: list[tuple[bool, Reason]] = [
        (row.completed_at is None, Reason.MISSING_COMPLETION_DATE),
        (row.symphonics_company_id is None, Reason.COMPANY_NOT_ONBOARDED),
        (row.pdl is not None and not pdl_ok and not address_usable, Reason.INVALID_PDL_FORMAT),
        (row.pdl is None and not address_usable, Reason.MISSING_PDL),
        (not _phone_ok(row.phone), Reason.INVALID_PHONE),
        (not row.documents >= REQUIRED_DOCUMENTS, Reason.MISSING_DOCUMENT),
        (not {"before", "after"} <= row.photos.keys(), Reason.MISSING_PHOTO),
        (any(None in coords for coords in row.photos.values()), Reason.PHOTO_WITHOUT_COORDINATES),
    ]
    for failed, reason in local:
        if failed:
            return ExpectedState.INVALID, reason
    local_part = row.installer_email.split("@")[0]
    if pdl_ok:
        assert row.pdl is not None
        if row.pdl.endswith("000") or row.pdl == "45678901234567":
            return ExpectedState.REJECTED_VALIDATION, Reason.PDL_INVALID
    elif not (row.address and row.address[0].isdigit()):
        return ExpectedState.REJECTED_VALIDATION, Reason.PDL_LOOKUP_LOW_CONFIDENCE
    if local_part.startswith(("unknown", "nonexistent")):
        return ExpectedState.REJECTED_VALIDATION, Reason.INSTALLER_UNKNOWN
    if local_part.startswith("inactive"):
        return ExpectedState.REJECTED_VALIDATION, Reason.INSTALLER_INACTIVE
    if _km(row.photos["before"], row.photos["after"]) > 1.0:
        return ExpectedState.PUBLISHED, Reason.PHOTOS_TOO_FAR_APART
    return ExpectedState.PUBLISHED, None


@pytest.fixture
def seeded(app_dsn: str) -> list[_Row]:
    seed_database(app_dsn, interventions=N, seed=SEED)
    return _load(app_dsn)


def test_each_intervention_ends_as_expected(seeded: list[_Row]) -> None:
    expected = expected_outcomes(SEED, N)
    assert len(seeded) == N
    mismatches = [
        (row.external_id, expected.outcomes[row.external_id].case, _classify(row))
        for row in seeded
        if _classify(row) != (expected.outcomes[row.external_id].state, expected.outcomes[row.external_id].reason)
    ]
    assert mismatches == []


def test_phones_are_e164_except_the_defects(seeded: list[_Row]) -> None:
    expected = expected_outcomes(SEED, N)
    for row in seeded:
        case = expected.outcomes[row.external_id].case
        assert row.phone is not None
        if case == Case.PHONE_UNPARSEABLE:
            assert not _phone_ok(row.phone)
            continue
        number = phonenumbers.parse(row.phone, "FR")
        assert phonenumbers.is_valid_number(number), row.phone
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        assert re.fullmatch(r"\+33[167][0-9]{8}", e164)
        if case == Case.PHONE_FIXABLE:
            assert row.phone != e164
        else:
            assert row.phone == e164


def test_pdls_trigger_partner_rules_only_on_purpose(seeded: list[_Row]) -> None:
    expected = expected_outcomes(SEED, N)
    for row in seeded:
        case = expected.outcomes[row.external_id].case
        if row.pdl is not None and PDL_PATTERN.match(row.pdl):
            partner_invalid = row.pdl.endswith("000") or row.pdl == "45678901234567"
            assert partner_invalid == (case == Case.PDL_UNKNOWN), (row.external_id, case, row.pdl)
        if case in {Case.PDL_BAD_FORMAT_NO_ADDRESS, Case.PDL_BAD_FORMAT_GOOD_ADDRESS}:
            assert row.pdl is not None
            assert not PDL_PATTERN.match(row.pdl.replace(" ", ""))


def test_installer_emails_trigger_partner_rules_only_on_purpose(app_dsn: str) -> None:
    seed_database(app_dsn, interventions=N, seed=SEED)
    with psycopg.connect(app_dsn) as conn:
        rows = conn.execute(
            "SELECT i.email, i.is_active, c.email_domain FROM installers i JOIN companies c ON c.id = i.company_id"
        ).fetchall()
    reserved = [email for email, _, _ in rows if email.startswith(RESERVED_EMAIL_PREFIXES)]
    assert 0 < len(reserved) < len(rows) // 10
    for email, is_active, domain in rows:
        assert re.fullmatch(r"[a-z0-9.-]+@[a-z0-9-]+\.fr", email)
        assert email.endswith("@" + domain)
        assert is_active == (not email.startswith("inactive"))


def test_repeat_customers_and_late_documents(app_dsn: str) -> None:
    report = seed_database(app_dsn, interventions=N, seed=SEED)
    with psycopg.connect(app_dsn) as conn:
        repeat_ids = conn.execute(
            "SELECT array_agg(id ORDER BY id) "
            "FROM (SELECT id, count(*) OVER (PARTITION BY customer_id) AS visits, "
            "row_number() OVER (PARTITION BY customer_id ORDER BY id) AS visit FROM interventions) v "
            "WHERE visits > 1 AND visit > 1"
        ).fetchone()
        late_ids = conn.execute(
            "SELECT array_agg(d.intervention_id ORDER BY d.intervention_id) FROM intervention_documents d "
            "JOIN interventions i ON i.id = d.intervention_id WHERE d.created_at > i.completed_at"
        ).fetchone()
        stale = conn.execute(
            "SELECT count(*) FROM interventions i WHERE i.updated_at < (SELECT max(d.created_at) "
            "FROM intervention_documents d WHERE d.intervention_id = i.id)"
        ).fetchone()
    assert repeat_ids is not None
    assert late_ids is not None
    assert set(repeat_ids[0]) == set(report.plan.repeat_customer)
    assert set(late_ids[0]) == set(report.plan.late_document)
    assert stale == (0,)


def test_seed_refuses_a_non_empty_database_without_reset(app_dsn: str) -> None:
    seed_database(app_dsn, interventions=150, seed=1)
    with pytest.raises(RuntimeError, match="--reset"):
        seed_database(app_dsn, interventions=150, seed=1)
    report = seed_database(app_dsn, interventions=200, seed=2, reset=True)
    assert report.rows["interventions"] == 200
    with psycopg.connect(app_dsn) as conn:
        # The identities moved past the loaded ids: the app's next insert does not collide.
        conn.execute(
            "INSERT INTO intervention_documents (intervention_id, type, name, url) "
            "VALUES (1, 'additional_proof', 'Preuve', 'https://example.test/p.pdf')"
        )
