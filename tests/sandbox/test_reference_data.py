"""The deterministic rules of docs/SANDBOX.md, at the function level (the HTTP tests cover the routes)."""

from __future__ import annotations

import hashlib

import pytest

from include.symphonics_sandbox.reference_data import (
    check_pdl,
    find_user,
    is_well_formed_email,
    lookup_confidence,
    meter_type_for,
    pdl_for_address,
)


@pytest.mark.parametrize("pdl", ["12345678901234", "23456789012345", "34567890123456"])
def test_documented_valid_pdls_answer_the_documented_address(pdl: str) -> None:
    answer = check_pdl(pdl)
    assert answer.valid
    assert answer.body["address"] == {"street": "123 Rue de Paris", "postal_code": "75001", "city": "Paris"}
    assert answer.body["meter_type"] == "electronic"
    assert set(answer.body) == {"valid", "pdl", "address", "meter_type"}


def test_documented_invalid_pdl_is_invalid() -> None:
    answer = check_pdl("45678901234567")
    assert not answer.valid
    assert answer.body["valid"] is False


@pytest.mark.parametrize("pdl", ["1234", "123456789012345", "1234567890123a", "", "１２３４５６７８９０１２３４"])
def test_malformed_pdl(pdl: str) -> None:
    assert check_pdl(pdl).body == {"valid": False, "error": "Invalid PDL format", "message": "PDL must be 14 digits"}


def test_pdl_ending_in_000_is_unknown() -> None:
    body = check_pdl("11111111111000").body
    assert body["valid"] is False
    assert body["error"] == "Unknown PDL"


def test_other_pdls_are_valid_with_a_stable_address() -> None:
    first = check_pdl("11111111111111")
    assert first.valid
    assert first.body == check_pdl("11111111111111").body
    assert first.body["address"]["postal_code"].isdigit()
    assert meter_type_for("11111111111119") == "electromechanical"
    assert check_pdl("11111111111119").body["meter_type"] == "electromechanical"


def test_lookup_pdl_is_derived_from_the_normalised_address() -> None:
    pdl = pdl_for_address("45 Rue des Fleurs", "75015", "Paris")
    digest = int(hashlib.sha256(b"45 rue des fleurs|75015|paris").hexdigest(), 16)
    expected = "1" + f"{digest % 10**13:013d}"
    assert pdl == (expected if not expected.endswith("000") else expected[:-1] + "1")
    assert pdl_for_address("  45  rue DES fleurs ", "75015", " PARIS") == pdl
    assert check_pdl(pdl).valid


def test_lookup_of_the_documented_address_answers_the_documented_pdl() -> None:
    assert pdl_for_address("123 Rue de Paris", "75001", "Paris") == "12345678901234"


def test_lookup_never_answers_an_unknown_pdl() -> None:
    for number in range(2000):
        assert not pdl_for_address(f"{number} Rue X", "75001", "Paris").endswith("000")


def test_lookup_confidence_depends_on_the_house_number() -> None:
    assert lookup_confidence("45 Rue des Fleurs") == 0.95
    assert lookup_confidence("Rue des Fleurs") == 0.55
    assert lookup_confidence("Lieu-dit Les Granges 4") == 0.55


def test_documented_users() -> None:
    assert find_user("test.user@example.com") == ("usr_12345678", "active")
    assert find_user("inactive.user@example.com") is not None
    assert find_user("inactive.user@example.com")[1] == "inactive"  # type: ignore[index]
    assert find_user("nonexistent@example.com") is None


def test_user_rules_for_other_addresses() -> None:
    email = "Marie.Curie@Example.fr"
    expected_id = "usr_" + hashlib.sha256(email.lower().encode()).hexdigest()[:8]
    assert find_user(email) == (expected_id, "active")
    assert find_user("inactive-42@example.fr")[1] == "inactive"  # type: ignore[index]
    assert find_user("unknown.person@example.fr") is None
    assert find_user("nonexistent.2@example.fr") is None


@pytest.mark.parametrize(
    "email",
    ["plain", "a@b", "@example.com", "a..b@example.com", "a@-example.com", "x" * 65 + "@example.com", "a\x00@b.fr"],
)
def test_malformed_emails(email: str) -> None:
    assert not is_well_formed_email(email)
