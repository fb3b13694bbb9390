"""Validation of create and update bodies: one detail per bad field, with dotted paths."""

from __future__ import annotations

from typing import Any

import pytest

from include.symphonics_sandbox.validation import validate_create_intervention, validate_update_intervention
from tests.sandbox.documented_examples import UPDATE_REQUEST, create_request


def fields_of(body: Any, *, reject_unknown: bool = True) -> list[str]:
    return [problem.field for problem in validate_create_intervention(body, reject_unknown=reject_unknown)]


def test_the_documented_body_is_valid() -> None:
    assert fields_of(create_request()) == []


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("customer", "email"), "not-an-email", "customer.email"),
        (("customer", "phone"), "0612345678", "customer.phone"),
        (("customer", "phone"), "+0612345678", "customer.phone"),
        (("customer", "first_name"), "", "customer.first_name"),
        (("customer", "last_name"), 42, "customer.last_name"),
        (("installation", "pdl"), "1234", "installation.pdl"),
        (("installation", "pce"), "98765", "installation.pce"),
        (("installation", "postal_code"), "7501", "installation.postal_code"),
        (("photos", 1, "coordinates", "latitude"), 91.0, "photos[1].coordinates.latitude"),
        (("photos", 0, "coordinates", "longitude"), -180.5, "photos[0].coordinates.longitude"),
        (("photos", 0, "coordinates", "latitude"), True, "photos[0].coordinates.latitude"),
        (("photos", 0, "type"), "during", "photos[0].type"),
        (("photos", 0, "timestamp"), "25/03/2025 10:30", "photos[0].timestamp"),
        (("photos", 0, "timestamp"), "2025-03-25T10:30:00", "photos[0].timestamp"),
        (("photos", 0, "timestamp"), "2025-13-25T10:30:00Z", "photos[0].timestamp"),
        (("documents", 2, "type"), "receipt", "documents[2].type"),
        (("documents", 0, "url"), "ftp://example.com/x.pdf", "documents[0].url"),
        (("services", 0, "quantity"), 0, "services[0].quantity"),
        (("services", 0, "quantity"), 1.5, "services[0].quantity"),
        (("equipment", 0, "quantity"), "1", "equipment[0].quantity"),
        (("installer", "company_id"), "", "installer.company_id"),
        (("completion_date",), "yesterday", "completion_date"),
        (("external_id",), "x" * 101, "external_id"),
    ],
)
def test_one_detail_per_bad_field(path: tuple[Any, ...], value: Any, field: str) -> None:
    body = create_request()
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert fields_of(body) == [field]


@pytest.mark.parametrize("missing", ["customer", "installation", "installer", "completion_date", "external_id"])
def test_required_top_level_fields(missing: str) -> None:
    body = create_request()
    del body[missing]
    assert fields_of(body) == [missing]


def test_required_nested_fields_each_get_a_detail() -> None:
    body = create_request()
    del body["customer"]["email"]
    del body["installer"]["id"]
    del body["photos"][0]["coordinates"]
    assert fields_of(body) == ["customer.email", "installer.id", "photos[0].coordinates"]


def test_pdl_is_required_unless_a_pce_is_given() -> None:
    body = create_request()
    del body["installation"]["pdl"]
    assert fields_of(body) == []
    del body["installation"]["pce"]
    assert fields_of(body) == ["installation.pdl"]


def test_unknown_fields_are_refused_by_default_and_ignored_on_request() -> None:
    body = create_request()
    body["priority"] = "high"
    body["customer"]["nickname"] = "Tom"
    assert fields_of(body) == ["customer.nickname", "priority"]
    assert fields_of(body, reject_unknown=False) == []


def test_a_body_that_is_not_an_object() -> None:
    assert fields_of([1, 2]) == ["body"]


def test_update_bodies() -> None:
    assert validate_update_intervention(UPDATE_REQUEST, reject_unknown=True) == []
    assert [p.field for p in validate_update_intervention({}, reject_unknown=True)] == ["documents"]
    assert [p.field for p in validate_update_intervention({"documents": []}, reject_unknown=True)] == ["documents"]
    bad = {"documents": [{"type": "selfie", "name": "x", "url": "https://x.fr/a.pdf"}], "status": "approved"}
    assert [p.field for p in validate_update_intervention(bad, reject_unknown=True)] == ["documents[0].type", "status"]
