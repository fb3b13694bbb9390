"""Scenario 8: generated bad app rows (hypothesis) through the pre-validation.

Batches of interventions with bad or odd values are written into a scratch app database built from the reference
schema (``include/symphonics/sql/app/schema.sql``), set-based (one ``COPY`` per table); the publish pipeline runs
on each batch against the sandbox. Whatever the data: no crash; every row ends in a state with a reason (a bad
row ``invalid`` or ``out_of_scope`` with the reason of one of its own defects); every odd but valid row is
published; and no partner call concerns a bad row (no call at all, ``symphonics.api_calls`` empty too, when the
batch holds no valid row).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import phonenumbers
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from include.symphonics_demo.app_db import APP_TABLES, apply_schema
from tests.faults.audit import session_database
from tests.faults.conftest import ReliabilityCollector
from tests.fixtures.stack import airflow_connection_json
from tests.publish.conftest import PublishWorld, clean_pipeline_tables, run_pipeline

APP_DATABASE = session_database("faults_bad_rows_app")
COMPLETED_AT = datetime(2026, 11, 20, 10, 30, tzinfo=UTC)
TAKEN_AT = datetime(2026, 11, 20, 9, 45, tzinfo=UTC)
ONBOARDED, NOT_ONBOARDED = 1, 2  # the two companies of every batch
EXAMPLES = 30

#: Every defect the generator can give a row, with the reasons the local rules may answer for it.
DEFECT_REASONS: dict[str, frozenset[str]] = {
    "not_completed": frozenset({"not_completed"}),
    "no_completion_date": frozenset({"missing_completion_date"}),
    "company_not_onboarded": frozenset({"company_not_onboarded"}),
    "pdl_malformed_no_address": frozenset({"invalid_pdl_format"}),
    "pdl_missing_no_address": frozenset({"missing_pdl"}),
    "phone_unusable": frozenset({"invalid_phone"}),
    "document_missing": frozenset({"missing_document"}),
    "photo_missing": frozenset({"missing_photo"}),
    "photo_without_coordinates": frozenset({"photo_without_coordinates"}),
    "photo_without_timestamp": frozenset({"photo_without_timestamp"}),
    "customer_email_malformed": frozenset({"invalid_email"}),
    "installer_email_malformed": frozenset({"invalid_installer_email"}),
    "address_unusable": frozenset({"invalid_address"}),
    "pce_malformed": frozenset({"invalid_pce"}),
}
DEFECTS = tuple(DEFECT_REASONS)

# --- strategies --------------------------------------------------------------------------------------------------

# Printable text of any script, never NUL nor a lone surrogate (PostgreSQL's text refuses both).
_odd_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x00"), min_size=1, max_size=60
).filter(lambda text: bool(text.strip()))
_blank = st.sampled_from(["", " ", "\t", "\u00a0\u2003"])
_ascii_digits = st.text(alphabet="0123456789", min_size=1, max_size=30)


def _valid_pdl() -> st.SearchStrategy[str]:
    """14 digits the sandbox validates (not ending in 000), sometimes typed with spaces."""

    def typed(digits: str, spaced: bool) -> str:
        return " ".join(digits[i : i + 3] for i in range(0, 14, 3)) if spaced else digits

    return st.builds(
        typed,
        st.builds(
            lambda body, last: body + last,
            st.text("0123456789", min_size=13, max_size=13),
            st.sampled_from("123456789"),
        ),
        st.booleans(),
    )


_malformed_pdl = st.one_of(
    _ascii_digits.filter(lambda digits: len(digits) != 14),  # wrong length
    st.builds(
        lambda digits, letter: digits[:7] + letter + digits[7:],
        st.text("0123456789", min_size=13, max_size=13),
        st.sampled_from("AbOoIlx-"),
    ),
    st.text(alphabet="٠١٢٣٤٥٦٧٨٩०१२३४५६७८९０１２３", min_size=14, max_size=14),  # unicode digits, 14 of them
    _odd_text.filter(lambda text: not "".join(text.split()).isascii()),
)
_missing_pdl = st.one_of(st.none(), _blank)


def _phone_is_unusable(raw: str | None) -> bool:
    """The oracle (phonenumbers itself, as the contract says): no valid number in region FR."""
    if raw is None or not raw.strip():
        return True
    text = raw.strip()
    text = "+" + text[2:] if text.startswith("00") else text
    try:
        return not phonenumbers.is_valid_number(phonenumbers.parse(text, "FR"))
    except phonenumbers.NumberParseException:
        return True


_fixable_phone = st.sampled_from(
    [
        "06 12 34 56 78",
        "06.12.34.56.78",
        "0612345678",
        "+33 6 12 34 56 78",
        "0033612345678",
        "+33 7 81 23 45 67",
        "01 42 68 53 00",
    ]
)
_unusable_phone = st.one_of(
    st.none(),
    _blank,
    st.sampled_from(["06 12 34", "N/A", "pas de téléphone", "+33", "0000000000", "☎ 06"]),
    st.builds(lambda digits: "06" + digits, st.text("0123456789", min_size=30, max_size=80)),  # very long
    _odd_text,
).filter(_phone_is_unusable)

_malformed_email = st.one_of(
    st.none(),
    _blank,
    st.builds(
        lambda local, domain: f"{local}{domain}",
        st.sampled_from(["jean.dupont", "x"]),
        st.sampled_from(["", "orange.fr", ".fr"]),
    ),
    st.builds(lambda local: f"{local}@@orange.fr", st.sampled_from(["a", "jean"])),
    st.builds(lambda local: f"{local} x@orange.fr", st.sampled_from(["a", "jean"])),
    st.sampled_from(["jean@orange", "jean@-orange.fr", "jean@orange.fr.", "@orange.fr", "jean@", "jean@orange..fr"]),
    st.builds(lambda size: "a" * size + "@orange.fr", st.integers(min_value=250, max_value=400)),
)
_malformed_pce = st.one_of(
    _ascii_digits.filter(lambda digits: len(digits) != 14),
    st.sampled_from(["GAZ-12345", "1234567890123X", "n/a"]),
)
_bad_postal_code = st.one_of(
    st.none(), _blank, st.sampled_from(["7500", "750011", "75 001", "2A004", "O7500", "７５００１"])
)


@dataclass
class Row:
    """One generated intervention: its values and the defects given to it."""

    defects: frozenset[str]
    status: str = "completed"
    completed: bool = True
    onboarded: bool = True
    pdl: str | None = None
    pce: str | None = None
    street: str | None = "12 rue des Lilas"
    postal_code: str | None = "69003"
    city: str | None = "Lyon"
    phone: str | None = "0612345678"
    customer_email: str | None = "jean.dupont@orange.fr"
    installer_email: str | None = None  # unique per row unless malformed
    first_name: str = "Jean"
    last_name: str = "Dupont"
    documents: tuple[str, ...] = ("invoice", "attestation_honneur", "contract")
    photos: tuple[tuple[str, float | None, float | None, bool], ...] = field(
        default=(("before", 45.7578, 4.8320, True), ("after", 45.7579, 4.8321, True))
    )

    @property
    def valid(self) -> bool:
        """Whether the row has no defect: it should be published."""
        return not self.defects


@st.composite
def rows(draw: st.DrawFn) -> Row:
    """A row: mostly defective (one or more defects), sometimes odd but valid."""
    defects = draw(st.one_of(st.just(frozenset()), st.frozensets(st.sampled_from(DEFECTS), min_size=1, max_size=3)))
    row = Row(defects=defects)
    # Odd but valid, on every row: unicode names and addresses, a phone typed badly but fixable, a spaced PDL.
    row.first_name, row.last_name = draw(_odd_text), draw(_odd_text)
    row.street = draw(st.builds(lambda number, rest: f"{number} {rest}", st.integers(1, 999), _odd_text))
    row.city = draw(_odd_text)
    row.phone = draw(_fixable_phone)
    row.pdl = draw(_valid_pdl())
    row.pce = draw(st.one_of(st.none(), _blank, st.text("0123456789", min_size=14, max_size=14)))
    for defect in sorted(defects):
        if defect == "not_completed":
            row.status = draw(st.sampled_from(["scheduled", "in_progress", "cancelled"]))
            row.completed = draw(st.booleans())
        elif defect == "no_completion_date":
            row.completed = False
        elif defect == "company_not_onboarded":
            row.onboarded = False
        elif defect in ("pdl_malformed_no_address", "pdl_missing_no_address", "address_unusable"):
            if defect == "pdl_malformed_no_address":
                row.pdl = draw(_malformed_pdl)
            elif defect == "pdl_missing_no_address":
                row.pdl = draw(_missing_pdl)
            unusable = draw(st.sampled_from(["postal_code", "street", "city"]))
            if unusable == "postal_code":
                row.postal_code = draw(_bad_postal_code)
            elif unusable == "street":
                row.street = draw(st.one_of(st.none(), _blank))
            else:
                row.city = draw(st.one_of(st.none(), _blank))
        elif defect == "phone_unusable":
            row.phone = draw(_unusable_phone)
        elif defect == "document_missing":
            missing = draw(st.frozensets(st.sampled_from(row.documents), min_size=1))
            row.documents = tuple(kind for kind in row.documents if kind not in missing)
        elif defect == "photo_missing":
            missing = draw(st.frozensets(st.sampled_from(["before", "after"]), min_size=1))
            row.photos = tuple(photo for photo in row.photos if photo[0] not in missing)
        elif defect == "photo_without_coordinates" and row.photos:
            kind, lat, lon, stamped = row.photos[-1]
            which = draw(st.sampled_from(["latitude", "longitude", "both"]))
            row.photos = (
                *row.photos[:-1],
                (kind, None if which != "longitude" else lat, None if which != "latitude" else lon, stamped),
            )
        elif defect == "photo_without_timestamp" and row.photos:
            kind, lat, lon, _ = row.photos[0]
            row.photos = ((kind, lat, lon, False), *row.photos[1:])
        elif defect == "customer_email_malformed":
            row.customer_email = draw(_malformed_email)
        elif defect == "installer_email_malformed":
            row.installer_email = draw(_malformed_email.filter(lambda email: email is not None))
        elif defect == "pce_malformed":
            row.pce = draw(_malformed_pce)
    return row


def _reasons(row: Row) -> frozenset[str]:
    """The reasons the row may end with (the first failing rule among its defects')."""
    if row.status != "completed":
        return frozenset({"not_completed"})
    return frozenset().union(*(DEFECT_REASONS[defect] for defect in row.defects if defect != "not_completed"))


# --- the scratch app database ------------------------------------------------------------------------------------

_numbers = itertools.count(1)


def load_batch(app_dsn: str, batch: list[Row], prefix: str) -> dict[str, Row]:
    """Empty the app's tables and write the batch, one COPY per table; the rows by external id."""
    by_id = {f"int_{prefix}{index:02d}": row for index, row in enumerate(batch, start=1)}
    with psycopg.connect(app_dsn) as conn, conn.cursor() as cur:
        cur.execute(f"TRUNCATE {', '.join(f'public.{table}' for table in APP_TABLES)} RESTART IDENTITY CASCADE")
        with cur.copy("COPY public.companies (id, name, email_domain, symphonics_company_id) FROM STDIN") as copy:
            copy.write_row((ONBOARDED, "Chauffage Rhône", "installateur.fr", "cmp_00000001"))
            copy.write_row((NOT_ONBOARDED, "Pas Encore", "pasencore.fr", None))
        with cur.copy("COPY public.installers (id, company_id, first_name, last_name, email) FROM STDIN") as copy:
            for number, (external_id, row) in enumerate(by_id.items(), start=1):
                email = (
                    row.installer_email if row.installer_email is not None else f"tech.{external_id}@installateur.fr"
                )
                copy.write_row((number, ONBOARDED if row.onboarded else NOT_ONBOARDED, "Paul", "Martin", email))
        with cur.copy("COPY public.customers (id, first_name, last_name, email, phone) FROM STDIN") as copy:
            for number, row in enumerate(by_id.values(), start=1):
                copy.write_row((number, row.first_name, row.last_name, row.customer_email, row.phone))
        with cur.copy(
            "COPY public.interventions (id, external_id, status, completed_at, customer_id, installer_id, address, "
            "postal_code, city, pdl, pce) FROM STDIN"
        ) as copy:
            for number, (external_id, row) in enumerate(by_id.items(), start=1):
                completed_at = COMPLETED_AT if row.completed else None
                values = (row.status, completed_at, number, number, row.street, row.postal_code, row.city, row.pdl)
                copy.write_row((number, external_id, *values, row.pce))
        with cur.copy("COPY public.intervention_services (intervention_id, code, name, quantity) FROM STDIN") as copy:
            for number in range(1, len(by_id) + 1):
                copy.write_row((number, "BAR-TH-171", "Pompe à chaleur air/eau", 1))
        with cur.copy("COPY public.intervention_documents (intervention_id, type, name, url) FROM STDIN") as copy:
            for number, row in enumerate(by_id.values(), start=1):
                for kind in row.documents:
                    copy.write_row((number, kind, f"{kind}.pdf", f"https://files.example.fr/{number}/{kind}.pdf"))
        with cur.copy(
            "COPY public.intervention_photos (intervention_id, type, url, latitude, longitude, taken_at) FROM STDIN"
        ) as copy:
            for number, row in enumerate(by_id.values(), start=1):
                for kind, lat, lon, stamped in row.photos:
                    url = f"https://files.example.fr/{number}/{kind}.jpg"
                    copy.write_row((number, kind, url, lat, lon, TAKEN_AT if stamped else None))
    return by_id


@pytest.fixture
def bad_rows_app(fault_world: PublishWorld, stack: Any) -> Iterator[str]:
    """A scratch app database of this session (``symphonics_test_<pid>_faults_bad_rows_app``) with the reference
    schema, behind ``app_db``; dropped afterwards."""
    stack.server.ensure_databases([APP_DATABASE], recreate=True)
    app_dsn = stack.server.url(APP_DATABASE)
    with psycopg.connect(app_dsn) as conn:
        apply_schema(conn)
    fault_world.monkeypatch.setenv("AIRFLOW_CONN_APP_DB", airflow_connection_json(stack.server, APP_DATABASE))
    try:
        yield app_dsn
    finally:
        with psycopg.connect(stack.server.admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {APP_DATABASE} WITH (FORCE)")


@dataclass
class BatchOutcome:
    """What the pipeline did with one batch."""

    ledger: dict[str, dict[str, Any]]
    calls: list[dict[str, Any]]
    api_calls: int
    held: list[str]


def run_batch(world: PublishWorld, app_dsn: str, batch: list[Row]) -> tuple[dict[str, Row], BatchOutcome]:
    """A fresh ledger and call log, the batch in the app, the whole publish pipeline over it."""
    prefix = f"h{next(_numbers):04d}_"
    clean_pipeline_tables(world.sync_dsn)
    response = world.sandbox.http.delete(f"{world.sandbox.url}/_sandbox/calls", timeout=10)
    assert response.status_code == 200
    by_id = load_batch(app_dsn, batch, prefix)
    run_pipeline(f"bad-rows-{prefix}")
    with psycopg.connect(world.sync_dsn) as conn:
        api_calls = conn.execute("SELECT count(*) FROM symphonics.api_calls").fetchone()
    held = [external_id for external_id in world.partner_external_ids() if external_id.startswith(f"int_{prefix}")]
    outcome = BatchOutcome(world.rows(), world.sandbox.calls(), int(api_calls[0]) if api_calls else 0, held)
    return by_id, outcome


def check_batch(by_id: dict[str, Row], outcome: BatchOutcome) -> Counter[str]:
    """The scenario's assertions on one batch; its figures."""
    valid = {external_id for external_id, row in by_id.items() if row.valid}
    figures: Counter[str] = Counter(bad=len(by_id) - len(valid), valid=len(valid))
    ledger = outcome.ledger
    held = Counter(outcome.held)
    figures["lost"] = sum(1 for external_id in valid if ledger.get(external_id, {}).get("state") != "published")
    figures["duplicated"] = sum(count - 1 for count in held.values() if count > 1)
    assert set(ledger) == set(by_id)
    for external_id, row in by_id.items():
        entry = ledger[external_id]
        if row.valid:
            assert entry["state"] == "published", (external_id, entry["state"], entry["state_reason"], row)
        else:
            assert entry["state"] in ("invalid", "out_of_scope"), (external_id, entry["state"], row)
            assert entry["state_reason"], (external_id, row)
            assert entry["state_reason"] in _reasons(row), (external_id, entry["state_reason"], row)
            assert entry["state_detail"], (external_id, row)
    assert set(held) == valid
    assert figures["duplicated"] == 0
    # Not one partner call about a bad row; none at all, and nothing counted, when no row is valid.
    if not valid:
        assert outcome.calls == []
        assert outcome.api_calls == 0
        return figures
    valid_rows = [by_id[external_id] for external_id in valid]
    pdls = {"".join((row.pdl or "").split()) for row in valid_rows}
    installers = {f"tech.{external_id}@installateur.fr" for external_id in valid}
    for call in outcome.calls:
        path = unquote(call["path"])
        if path.startswith("/validation/pdl/") and call["route"] != "validation.pdl_lookup":
            assert path.removeprefix("/validation/pdl/") in pdls, path
        elif path.startswith("/validation/user/"):
            assert path.removeprefix("/validation/user/") in installers, path
        else:
            assert path in ("/auth/token", "/crm/interventions"), path
    assert sum(1 for call in outcome.calls if call["path"] == "/crm/interventions") == len(valid)
    return figures


_batches = st.lists(rows(), min_size=1, max_size=6)


def test_generated_bad_app_rows_end_with_a_reason_and_spend_no_partner_call(
    fault_world: PublishWorld, bad_rows_app: str, reliability: ReliabilityCollector
) -> None:
    totals: Counter[str] = Counter()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )
    @given(batch=_batches)
    def one_batch(batch: list[Row]) -> None:
        by_id, outcome = run_batch(fault_world, bad_rows_app, batch)
        totals["batches"] += 1
        totals["all_bad"] += int(all(not row.valid for row in batch))
        totals.update(check_batch(by_id, outcome))

    try:
        one_batch()
    finally:
        reliability.record(
            "8",
            f"{EXAMPLES} generated batches",
            faults=totals["bad"],
            lost=totals["lost"],
            duplicated=totals["duplicated"],
            note=f"{totals['batches']} batches, {totals['valid']} valid rows, {totals['all_bad']} without a valid row",
        )
    assert totals["lost"] == 0
    assert totals["all_bad"] > 0
    assert totals["valid"] > 0


@pytest.mark.parametrize("photo", [("after", 123.0, 4.8321, True), ("after", 45.7579, -181.5, True)])
def test_out_of_range_photo_coordinates_spend_no_partner_call(
    fault_world: PublishWorld, bad_rows_app: str, photo: tuple[str, float, float, bool]
) -> None:
    row = Row(defects=frozenset({"photo_coordinates_out_of_range"}), pdl="12345678901231")
    row.photos = (row.photos[0], photo)
    by_id, outcome = run_batch(fault_world, bad_rows_app, [row])
    (entry,) = outcome.ledger.values()
    assert outcome.held == []
    assert outcome.calls == []
    assert entry["state"] == "invalid"
    assert list(by_id) == list(outcome.ledger)
