"""Pure logic: local rules and their precedence, phone and PDL normalisation, fingerprints, diffs, transitions."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from include.symphonics.core.normalise import lookup_key, normalise_pdl, normalise_phone
from include.symphonics.core.states import LedgerState, check_transition
from include.symphonics.publish.payload import address_is_usable, fingerprint, new_documents, unpatchable_changes
from include.symphonics.publish.prevalidate import decide_for_published
from include.symphonics.publish.rules import check_local_rules
from include.symphonics_demo.expectations import LOCAL_RULE_PRECEDENCE


def good_source() -> dict[str, Any]:
    return {
        "external_id": "int_00000001",
        "status": "completed",
        "completion_date": "2025-03-25T11:30:00Z",
        "customer": {
            "first_name": "Thomas",
            "last_name": "Martin",
            "email": "t.martin@orange.fr",
            "phone": "0612345678",
        },
        "installation": {
            "address": "45 rue des Fleurs",
            "postal_code": "75015",
            "city": "Paris",
            "pdl": "12345678901234",
            "pce": None,
        },
        "installer": {"email": "jean.dupont@acme.fr", "name": "Jean Dupont", "company_id": "cmp_1"},
        "services": [{"code": "BAR-TH-173", "name": "Régulateur", "quantity": 1}],
        "equipment": [{"name": "Régulateur", "model": None, "serial_number": "X1", "quantity": 1}],
        "documents": [
            {"type": kind, "name": kind, "url": f"https://app.example/{kind}.pdf"}
            for kind in ("invoice", "attestation_honneur", "contract")
        ],
        "photos": [
            {
                "type": kind,
                "url": f"https://app.example/{kind}.jpg",
                "latitude": 48.8,
                "longitude": 2.3,
                "timestamp": "2025-03-25T10:30:00Z",
            }
            for kind in ("before", "after")
        ],
    }


BREAKERS = {
    "missing_completion_date": lambda s: s.update(completion_date=None),
    "company_not_onboarded": lambda s: s["installer"].update(company_id=None),
    "invalid_pdl_format": lambda s: s["installation"].update(pdl="1234567890123", postal_code="6000"),
    "missing_pdl": lambda s: s["installation"].update(pdl=None, address=""),
    "invalid_phone": lambda s: s["customer"].update(phone="N/A"),
    "missing_document": lambda s: s.update(documents=s["documents"][1:]),
    "missing_photo": lambda s: s.update(photos=s["photos"][:1]),
    "photo_without_coordinates": lambda s: s["photos"][0].update(latitude=None),
}


def test_a_good_record_passes_with_its_payload() -> None:
    verdict = check_local_rules(good_source())
    assert verdict.passed
    assert not verdict.needs_lookup
    assert verdict.payload is not None
    assert verdict.payload["customer"]["phone"] == "+33612345678"
    assert verdict.payload["equipment"] == [{"name": "Régulateur", "serial_number": "X1", "quantity": 1}]
    assert "pce" not in verdict.payload["installation"]


@pytest.mark.parametrize("reason", [reason.value for reason in LOCAL_RULE_PRECEDENCE])
def test_each_rule_gives_its_reason(reason: str) -> None:
    source = good_source()
    BREAKERS[reason](source)
    verdict = check_local_rules(source)
    assert (verdict.state, verdict.reason) == (LedgerState.INVALID, reason)


def test_the_first_failing_rule_in_the_contract_order_wins() -> None:
    # Break every rule from the last to the first: the reason is always the earliest one broken.
    source = good_source()
    for reason in reversed([reason.value for reason in LOCAL_RULE_PRECEDENCE]):
        BREAKERS[reason](source)
        assert check_local_rules(copy.deepcopy(source)).reason == reason


def test_not_completed_is_out_of_scope_and_a_missing_pdl_with_an_address_goes_to_the_lookup() -> None:
    source = good_source()
    source["status"] = "in_progress"
    assert check_local_rules(source).state is LedgerState.OUT_OF_SCOPE
    source = good_source()
    source["installation"]["pdl"] = "1234 5678 9012 3"
    verdict = check_local_rules(source)
    assert verdict.passed
    assert verdict.needs_lookup


@pytest.mark.parametrize(
    "typed", ["06 12 34 56 78", "06.12.34.56.78", "0612345678", "+33 6 12 34 56 78", "0033612345678"]
)
def test_french_phones_are_normalised_to_e164(typed: str) -> None:
    assert normalise_phone(typed) == "+33612345678"


@pytest.mark.parametrize("typed", ["06 12 34", "N/A", "pas de téléphone", "", None])
def test_unusable_phones_are_refused(typed: str | None) -> None:
    assert normalise_phone(typed) is None


def test_pdls_and_addresses() -> None:
    assert normalise_pdl(" 1234 5678 9012 34 ") == "12345678901234"
    assert normalise_pdl("1234567890123A") is None
    assert address_is_usable({"address": "1 rue X", "postal_code": "06000", "city": "Nice"})
    assert not address_is_usable({"address": "1 rue X", "postal_code": "6000", "city": "Nice"})
    key = lookup_key({"street": " 12  Rue des Lilas", "postal_code": "75001", "city": "PARIS"}, "Martin")
    assert key == "12 rue des lilas|75001|paris|martin"


@given(st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=6))
def test_the_fingerprint_ignores_key_order(data: dict[str, Any]) -> None:
    assert fingerprint(data) == fingerprint(dict(reversed(list(data.items()))))


def test_a_published_row_patches_only_new_documents_and_reports_what_a_patch_cannot_carry() -> None:
    verdict = check_local_rules(good_source())
    assert verdict.payload is not None
    sent = verdict.payload
    later = good_source()
    proof = {"type": "additional_proof", "name": "p", "url": "https://app.example/proof.pdf"}
    later["documents"].append(proof)
    decision = decide_for_published(later, sent, sent["documents"], patched=False)
    assert decision.state is LedgerState.READY
    assert new_documents(decision.payload["documents"], sent["documents"]) == [proof]  # type: ignore[index]

    moved = good_source()
    moved["installation"]["address"] = "3 rue Neuve"
    decision = decide_for_published(moved, sent, sent["documents"], patched=False)
    assert decision.state is LedgerState.CHANGED_AFTER_PUBLISH
    assert decision.changed_fields == {"installation.address": {"sent": "45 rue des Fleurs", "now": "3 rue Neuve"}}

    cancelled = good_source()
    cancelled["status"] = "cancelled"
    assert decide_for_published(cancelled, sent, sent["documents"], patched=True).reason == "cancelled_after_publish"
    assert decide_for_published(good_source(), sent, sent["documents"], patched=True).state is LedgerState.UPDATED


def test_a_pdl_found_by_lookup_is_not_a_change() -> None:
    current = check_local_rules(good_source()).payload
    assert current is not None
    current["installation"].pop("pdl")
    sent = copy.deepcopy(current)
    sent["installation"]["pdl"] = "19999999999991"
    assert unpatchable_changes(current, sent) == {}


def test_transitions() -> None:
    check_transition(LedgerState.READY, LedgerState.SENDING)
    check_transition(LedgerState.SENDING, LedgerState.CONFLICT_UNRESOLVED)
    with pytest.raises(ValueError, match="never moves"):
        check_transition(LedgerState.READY, LedgerState.PUBLISHED)  # never without `sending` first
    with pytest.raises(ValueError, match="never moves"):
        check_transition(LedgerState.SENDING, LedgerState.PENDING)  # only the publisher resolves `sending`


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda s: s["photos"][1].update(latitude=123.0), "invalid_coordinates"),
        (lambda s: s["photos"][0].update(longitude=-181.5), "invalid_coordinates"),
        (lambda s: s["customer"].update(first_name="  "), "missing_customer_name"),
        (lambda s: s["customer"].update(last_name=None), "missing_customer_name"),
        (lambda s: s["customer"].update(email="jean..dupont@orange.fr"), "invalid_email"),
        (lambda s: s["customer"].update(email=".jean@orange.fr"), "invalid_email"),
        (lambda s: s["installer"].update(email="jean.@acme.fr"), "invalid_installer_email"),
    ],
)
def test_what_the_partner_would_refuse_is_caught_locally(change: Any, reason: str) -> None:
    source = good_source()
    change(source)
    verdict = check_local_rules(source)
    assert verdict.state == LedgerState.INVALID
    assert verdict.reason == reason


@pytest.mark.parametrize("email", ["o'brien+cee@orange.fr", "a.b-c_d@sub.example.co.uk", "x@y.fr"])
def test_unusual_but_valid_emails_pass(email: str) -> None:
    source = good_source()
    source["customer"]["email"] = email
    assert check_local_rules(source).passed


def test_the_run_type_enum_is_compared_by_its_value() -> None:
    from datetime import UTC, datetime

    from airflow.utils.types import DagRunType

    from include.symphonics.publish.steps import extract_request, run_type_name

    assert run_type_name(DagRunType.BACKFILL_JOB) == "backfill"
    assert run_type_name("manual") == "manual"
    assert run_type_name(None) is None
    logical = datetime(2026, 11, 26, 9, 15, tzinfo=UTC)
    request = extract_request(
        {}, run_type=run_type_name(DagRunType.BACKFILL_JOB), logical_date=logical, schedule="*/15 * * * *"
    )
    assert request.from_at is not None
    assert request.to_at == logical
