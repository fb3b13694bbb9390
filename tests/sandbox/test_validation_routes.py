"""GET /validation/pdl/{pdl}, POST /validation/pdl/lookup, GET /validation/user/{email}: the document's examples
and the sandbox's deterministic rules, over HTTP."""

from __future__ import annotations

import pytest

from tests.sandbox.documented_examples import (
    PDL_INVALID_RESPONSE,
    PDL_LOOKUP_REQUEST,
    PDL_LOOKUP_RESPONSE,
    PDL_VALID_RESPONSE,
    USER_FOUND_RESPONSE,
    USER_NOT_FOUND_RESPONSE,
)
from tests.sandbox.partner import PartnerCaller, assert_error

pytestmark = pytest.mark.integration  # a real sandbox over loopback


def test_documented_pdl_response(partner: PartnerCaller) -> None:
    response = partner.get("/validation/pdl/12345678901234")
    assert response.status_code == 200
    assert response.json() == PDL_VALID_RESPONSE


@pytest.mark.parametrize("pdl", ["23456789012345", "34567890123456"])
def test_documented_commercial_and_precarious_pdls_are_valid(partner: PartnerCaller, pdl: str) -> None:
    response = partner.get(f"/validation/pdl/{pdl}")
    assert response.status_code == 200
    assert response.json() == {**PDL_VALID_RESPONSE, "pdl": pdl}


def test_documented_invalid_pdl(partner: PartnerCaller) -> None:
    response = partner.get("/validation/pdl/45678901234567")
    assert response.status_code == 400
    body = response.json()
    assert body["valid"] is False
    assert set(body) == {"valid", "error", "message"}


@pytest.mark.parametrize("pdl", ["123", "1234567890123X", "123456789012345", "%F0%9F%98%80", "9" * 5000])
def test_malformed_pdl_answers_the_documented_400(partner: PartnerCaller, pdl: str) -> None:
    response = partner.get(f"/validation/pdl/{pdl}")
    assert response.status_code == 400
    assert response.json() == PDL_INVALID_RESPONSE


def test_pdl_ending_in_000_is_unknown(partner: PartnerCaller) -> None:
    response = partner.get("/validation/pdl/98765432101000")
    assert response.status_code == 400
    assert response.json()["error"] == "Unknown PDL"


def test_other_pdls_are_valid_and_meter_type_follows_the_last_digit(partner: PartnerCaller) -> None:
    assert partner.get("/validation/pdl/98765432101234").json()["meter_type"] == "electronic"
    assert partner.get("/validation/pdl/98765432101239").json()["meter_type"] == "electromechanical"


def test_documented_lookup(partner: PartnerCaller) -> None:
    response = partner.post("/validation/pdl/lookup", json=PDL_LOOKUP_REQUEST)
    assert response.status_code == 200
    assert response.json() == PDL_LOOKUP_RESPONSE


def test_lookup_confidence_and_pdl(partner: PartnerCaller) -> None:
    numbered = partner.post(
        "/validation/pdl/lookup",
        json={
            "address": {"street": "45 Rue des Fleurs", "postal_code": "75015", "city": "Paris"},
            "customer_name": "M",
        },
    ).json()
    unnumbered = partner.post(
        "/validation/pdl/lookup",
        json={"address": {"street": "Rue des Fleurs", "postal_code": "75015", "city": "Paris"}, "customer_name": "M"},
    ).json()
    assert numbered["confidence"] == 0.95
    assert unnumbered["confidence"] == 0.55
    assert numbered["pdl"].startswith("1")
    assert len(numbered["pdl"]) == 14
    assert partner.get(f"/validation/pdl/{numbered['pdl']}").status_code == 200


@pytest.mark.parametrize(
    "address",
    [
        {"street": "1 Rue X", "postal_code": "7500", "city": "Paris"},
        {"street": "", "postal_code": "75001", "city": "Paris"},
        {"street": "1 Rue X", "postal_code": "75001", "city": "  "},
    ],
)
def test_lookup_not_found(partner: PartnerCaller, address: dict) -> None:
    response = partner.post("/validation/pdl/lookup", json={"address": address, "customer_name": "Martin"})
    assert_error(response, 404, "NOT_FOUND")


def test_lookup_missing_fields_are_422(partner: PartnerCaller) -> None:
    response = partner.post("/validation/pdl/lookup", json={"address": {"street": "1 Rue X"}})
    error = assert_error(response, 422, "VALIDATION_ERROR")
    assert {d["field"] for d in error["details"]} == {"address.postal_code", "address.city", "customer_name"}


def test_documented_users(partner: PartnerCaller) -> None:
    found = partner.get("/validation/user/test.user@example.com")
    assert found.status_code == 200
    assert found.json() == USER_FOUND_RESPONSE
    inactive = partner.get("/validation/user/inactive.user@example.com").json()
    assert inactive["exists"] is True
    assert inactive["status"] == "inactive"
    missing = partner.get("/validation/user/nonexistent@example.com")
    assert missing.status_code == 404
    assert missing.json() == USER_NOT_FOUND_RESPONSE


def test_user_rules(partner: PartnerCaller) -> None:
    assert partner.get("/validation/user/inactive.someone@example.fr").json()["status"] == "inactive"
    assert partner.get("/validation/user/unknown.someone@example.fr").status_code == 404
    body = partner.get("/validation/user/jean.dupont@example.fr").json()
    assert body["exists"] is True
    assert body["status"] == "active"
    assert body["user_id"].startswith("usr_")


@pytest.mark.parametrize(
    "email", ["not-an-email", "%00", "a@b", "x" * 300 + "@example.com", "%C3%A9l%C3%A8ve@%E2%98%83"]
)
def test_malformed_emails_are_400(partner: PartnerCaller, email: str) -> None:
    error = assert_error(partner.get(f"/validation/user/{email}"), 400, "INVALID_REQUEST")
    assert error["details"] == [{"field": "email", "message": "Invalid e-mail address"}]
