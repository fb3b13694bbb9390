"""POST/GET/PATCH /crm/interventions: documented shapes, validation, conflicts and the lifecycle."""

from __future__ import annotations

import re

import pytest

from tests.fixtures.sandbox import SandboxAdmin
from tests.sandbox.documented_examples import UPDATE_REQUEST, create_request
from tests.sandbox.partner import PartnerCaller, assert_error

pytestmark = pytest.mark.integration  # a real sandbox over loopback

ISO_SECONDS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def create(partner: PartnerCaller, external_id: str, **changes: object) -> dict:
    response = partner.create(create_request(external_id, **changes))
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_documented_create(partner: PartnerCaller) -> None:
    response = partner.create(create_request())
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "status", "external_id", "created_at"}
    assert re.fullmatch(r"sym_\d{8}", body["id"])
    assert body["status"] == "created"
    assert body["external_id"] == "int_12345678"
    assert ISO_SECONDS.match(body["created_at"])
    assert response.headers["Location"] == f"/crm/interventions/{body['id']}"


def test_documented_get_while_processing(sandbox: SandboxAdmin, partner: PartnerCaller) -> None:
    created = create(partner, "int_get")
    first = partner.get(f"/crm/interventions/{created['id']}").json()
    assert first["status"] == "created"
    sandbox.tick()
    body = partner.get(f"/crm/interventions/{created['id']}").json()
    assert set(body) == {"id", "external_id", "status", "created_at", "updated_at", "next_steps"}
    assert body["status"] == "processing"
    assert body["created_at"] == created["created_at"]
    (step,) = body["next_steps"]
    assert step["type"] == "verification"
    assert step["status"] == "pending"
    assert ISO_SECONDS.match(step["estimated_completion"])


def test_unknown_intervention_is_404(partner: PartnerCaller) -> None:
    assert_error(partner.get("/crm/interventions/sym_00000000"), 404, "NOT_FOUND")
    assert_error(partner.patch("/crm/interventions/sym_00000000", json=UPDATE_REQUEST), 404, "NOT_FOUND")


def test_documented_update(sandbox: SandboxAdmin, partner: PartnerCaller) -> None:
    created = create(partner, "int_patch")
    response = partner.patch(f"/crm/interventions/{created['id']}", json=UPDATE_REQUEST)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"id", "status", "external_id", "updated_at"}
    assert body["status"] == "updated"
    assert body["id"] == created["id"]
    assert body["external_id"] == "int_patch"
    assert len(sandbox.intervention(created["id"])["documents"]) == 4


def test_update_validation(partner: PartnerCaller) -> None:
    created = create(partner, "int_patch_bad")
    error = assert_error(partner.patch(f"/crm/interventions/{created['id']}", json={}), 422, "VALIDATION_ERROR")
    assert error["details"][0]["field"] == "documents"


def test_create_validation_reports_each_field(partner: PartnerCaller) -> None:
    body = create_request("int_bad")
    body["installation"]["pdl"] = "123"
    body["customer"]["phone"] = "06 12 34 56 78"
    body["photos"][1]["coordinates"]["latitude"] = 123.0
    body["documents"][0]["type"] = "receipt"
    error = assert_error(partner.create(body), 422, "VALIDATION_ERROR")
    assert [d["field"] for d in error["details"]] == [
        "customer.phone",
        "installation.pdl",
        "documents[0].type",
        "photos[1].coordinates.latitude",
    ]


def test_the_documented_error_example(partner: PartnerCaller) -> None:
    body = create_request("int_bad_pdl")
    body["installation"]["pdl"] = "1234"
    error = assert_error(partner.create(body), 422, "VALIDATION_ERROR")
    assert error["message"] == "Invalid PDL format"
    assert error["details"] == [{"field": "installation.pdl", "message": "PDL must be 14 digits"}]


def test_unknown_fields(sandbox: SandboxAdmin, partner: PartnerCaller) -> None:
    body = create_request("int_unknown", priority="high")
    error = assert_error(partner.create(body), 422, "VALIDATION_ERROR")
    assert error["details"] == [{"field": "priority", "message": "Unknown field"}]
    sandbox.configure(unknown_fields="ignore")
    assert partner.create(body).status_code == 201


def test_conflict_bare_by_default(partner: PartnerCaller) -> None:
    create(partner, "int_dup")
    error = assert_error(partner.create(create_request("int_dup")), 409, "CONFLICT")
    assert error["details"] == [
        {"field": "external_id", "message": "An intervention with this external_id already exists"}
    ]
    assert "sym_" not in str(error)


def test_conflict_with_id(sandbox: SandboxAdmin, partner: PartnerCaller) -> None:
    sandbox.configure(conflict_mode="with_id")
    created = create(partner, "int_dup_id")
    error = assert_error(partner.create(create_request("int_dup_id")), 409, "CONFLICT")
    assert error["details"] == [
        {"field": "external_id", "message": "An intervention with this external_id already exists"},
        {"field": "id", "message": created["id"]},
    ]


def test_ids_are_stable_across_resets(sandbox: SandboxAdmin, partner: PartnerCaller) -> None:
    first = create(partner, "int_stable")["id"]
    sandbox.reset()
    again = PartnerCaller(sandbox)
    assert create(again, "int_stable")["id"] == first


def decision_of(sandbox: SandboxAdmin, partner: PartnerCaller, external_id: str, **changes: object) -> dict:
    created = create(partner, external_id, **changes)
    sandbox.settle()
    return sandbox.intervention(created["id"])


def test_complete_intervention_is_approved(sandbox: SandboxAdmin, partner: PartnerCaller) -> None:
    record = decision_of(sandbox, partner, "int_ok")
    assert record["status"] == "approved"
    assert record["notes"] == "All documents verified successfully"
    assert [step["status"] for step in record["history"]] == ["created", "processing", "approved"]
    assert partner.get(f"/crm/interventions/{record['id']}").json()["next_steps"] == []


def test_missing_attestation_is_rejected(sandbox: SandboxAdmin, partner: PartnerCaller) -> None:
    documents = [doc for doc in create_request()["documents"] if doc["type"] != "attestation_honneur"]
    record = decision_of(sandbox, partner, "int_no_ah", documents=documents)
    assert record["status"] == "rejected"
    assert "Attestation sur l'honneur manquante" in record["notes"]
    body = partner.get(f"/crm/interventions/{record['id']}").json()
    assert body["next_steps"] == [{"type": "additional_proof", "status": "required"}]


def test_photos_far_apart_are_rejected(sandbox: SandboxAdmin, partner: PartnerCaller) -> None:
    photos = create_request()["photos"]
    photos[1]["coordinates"] = {"latitude": 48.8738, "longitude": 2.2950}  # Arc de Triomphe, ~5 km away
    record = decision_of(sandbox, partner, "int_far", photos=photos)
    assert record["status"] == "rejected"
    assert "pas été prises sur le même site" in record["notes"]


def test_photos_close_together_are_approved(sandbox: SandboxAdmin, partner: PartnerCaller) -> None:
    photos = create_request()["photos"]
    photos[1]["coordinates"] = {"latitude": 48.8600, "longitude": 2.3522}  # ~380 m away
    assert decision_of(sandbox, partner, "int_near", photos=photos)["status"] == "approved"


def test_attestation_that_is_not_a_pdf_is_rejected(sandbox: SandboxAdmin, partner: PartnerCaller) -> None:
    documents = create_request()["documents"]
    documents[1]["url"] = "https://app.workforce-automation.com/documents/int_1/ah.jpg"
    record = decision_of(sandbox, partner, "int_ah_jpg", documents=documents)
    assert record["status"] == "rejected"
    assert "PDF" in record["notes"]


def test_additional_proof_reopens_a_rejection_and_it_is_approved(sandbox: SandboxAdmin, partner: PartnerCaller) -> None:
    documents = [doc for doc in create_request()["documents"] if doc["type"] != "attestation_honneur"]
    record = decision_of(sandbox, partner, "int_reopen", documents=documents)
    assert record["status"] == "rejected"
    assert partner.patch(f"/crm/interventions/{record['id']}", json=UPDATE_REQUEST).status_code == 200
    assert partner.get(f"/crm/interventions/{record['id']}").json()["status"] == "processing"
    sandbox.tick()
    reopened = sandbox.intervention(record["id"])
    assert reopened["status"] == "approved"
    assert [step["status"] for step in reopened["history"]] == [
        "created",
        "processing",
        "rejected",
        "processing",
        "approved",
    ]


def test_update_without_additional_proof_keeps_the_status(sandbox: SandboxAdmin, partner: PartnerCaller) -> None:
    documents = [doc for doc in create_request()["documents"] if doc["type"] != "attestation_honneur"]
    record = decision_of(sandbox, partner, "int_stay", documents=documents)
    invoice = {"documents": [{"type": "invoice", "name": "Facture 2", "url": "https://x.fr/f2.pdf"}]}
    assert partner.patch(f"/crm/interventions/{record['id']}", json=invoice).status_code == 200
    assert partner.get(f"/crm/interventions/{record['id']}").json()["status"] == "rejected"


def test_lifecycle_advances_on_its_own_with_time_scale(sandbox: SandboxAdmin, partner: PartnerCaller) -> None:
    sandbox.configure(time_scale=20)  # 2 s + 5 s of sandbox time: 0.35 s of real time
    created = create(partner, "int_timed")
    record = sandbox.wait_for(
        lambda: (r := sandbox.intervention(created["id"]))["status"] == "approved" and r, timeout=10
    )
    assert [step["status"] for step in record["history"]] == ["created", "processing", "approved"]


def test_tick_with_zero_steps_only_applies_what_is_due(sandbox: SandboxAdmin, partner: PartnerCaller) -> None:
    sandbox.configure(processing_delay=3600)
    created = create(partner, "int_not_due")
    assert sandbox.tick(steps=0) == 0
    assert sandbox.intervention(created["id"])["status"] == "created"


def test_photos_are_not_patchable(sandbox: SandboxAdmin, partner: PartnerCaller) -> None:
    created = create(partner, "int_patch_photo")
    photo = create_request("x")["photos"][0]
    with_photo = {**UPDATE_REQUEST, "photos": [photo]}
    error = assert_error(partner.patch(f"/crm/interventions/{created['id']}", json=with_photo), 422, "VALIDATION_ERROR")
    assert [detail["field"] for detail in error["details"]] == ["photos"]
    assert len(sandbox.intervention(created["id"])["photos"]) == 2  # nothing was added


def test_a_forbidden_resource_answers_403_and_only_it(sandbox: SandboxAdmin, partner: PartnerCaller) -> None:
    sandbox.forbidden("int_forbidden")
    assert_error(partner.create(create_request("int_forbidden")), 403, "FORBIDDEN")
    assert partner.create(create_request("int_allowed")).status_code == 201
    created = create(partner, "int_forbidden_later")
    sandbox.forbidden(created["id"], count=1)
    assert_error(partner.get(f"/crm/interventions/{created['id']}"), 403, "FORBIDDEN")
    assert partner.get(f"/crm/interventions/{created['id']}").status_code == 200  # the count is spent
    assert_error(partner.create(create_request("int_forbidden")), 403, "FORBIDDEN")  # no count: every call


def test_the_daily_reset_forgets_interventions(sandbox: SandboxAdmin, partner: PartnerCaller) -> None:
    created = create(partner, "int_reset_daily")
    sandbox.daily_reset()
    assert_error(partner.get(f"/crm/interventions/{created['id']}"), 404, "NOT_FOUND")
