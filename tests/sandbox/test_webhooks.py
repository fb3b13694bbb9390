"""Signed webhooks: documented shapes, signature checked independently with hmac, retries and test variants."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime

import pytest

from tests.fixtures.sandbox import SandboxAdmin, WebhookReceiver, free_port
from tests.sandbox.documented_examples import (
    DOCUMENT_VERIFICATION_EVENT_KEYS,
    STATUS_UPDATE_EVENT_KEYS,
    create_request,
)
from tests.sandbox.partner import PartnerCaller

pytestmark = pytest.mark.integration  # a real sandbox over loopback

SECRET = b"sandbox-demo-webhook-secret"
# Lifecycle delays long enough that only /_sandbox/tick moves an intervention, even with a large time_scale.
ONLY_FORCED_TRANSITIONS = {"processing_delay": 1_000_000, "decision_delay": 1_000_000}


def signature_ok(body: bytes, signature: str) -> bool:
    return hmac.compare_digest(hmac.new(SECRET, body, hashlib.sha256).hexdigest(), signature)


def age_of(timestamp: str) -> float:
    return time.time() - datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def approved_intervention(sandbox: SandboxAdmin, partner: PartnerCaller, external_id: str = "int_wh") -> str:
    response = partner.create(create_request(external_id))
    assert response.status_code == 201
    sandbox.settle()
    return str(response.json()["id"])


def test_lifecycle_events_are_documented_signed_and_ordered(
    sandbox: SandboxAdmin, partner: PartnerCaller, webhook_receiver: WebhookReceiver
) -> None:
    sandbox.configure(webhook_url=webhook_receiver.url)
    intervention_id = approved_intervention(sandbox, partner)
    received = webhook_receiver.wait_for(5)
    payloads = []
    for request in received:
        assert request.path == "/webhooks/symphonics"
        assert request.headers["Content-Type"] == "application/json"
        assert signature_ok(request.body, request.headers["X-Symphonics-Signature"])
        payload = json.loads(request.body)
        assert set(payload) == {"event", "timestamp", "data"}  # no event id: the document has none
        assert age_of(payload["timestamp"]) < 60
        payloads.append(payload)
    assert [p["event"] for p in payloads] == [
        "intervention.status_update",
        "document.verification",
        "document.verification",
        "document.verification",
        "intervention.status_update",
    ]
    first, *documents, decision = payloads
    assert set(first["data"]) == STATUS_UPDATE_EVENT_KEYS
    assert (first["data"]["previous_status"], first["data"]["new_status"]) == ("created", "processing")
    assert decision["data"] == {
        "intervention_id": intervention_id,
        "external_id": "int_wh",
        "previous_status": "processing",
        "new_status": "approved",
        "notes": "All documents verified successfully",
    }
    for document in documents:
        assert set(document["data"]) == DOCUMENT_VERIFICATION_EVENT_KEYS
        assert document["data"]["verification_status"] == "verified"
    assert [d["data"]["document_type"] for d in documents] == ["invoice", "attestation_honneur", "contract"]
    assert {d["outcome"] for d in sandbox.webhook_deliveries()} == {"delivered"}


def test_attestation_not_pdf_is_a_rejected_verification(
    sandbox: SandboxAdmin, partner: PartnerCaller, webhook_receiver: WebhookReceiver
) -> None:
    sandbox.configure(webhook_url=webhook_receiver.url)
    documents = create_request()["documents"]
    documents[1]["url"] = "https://x.fr/ah.png"
    assert partner.create(create_request("int_png", documents=documents)).status_code == 201
    sandbox.settle()
    payloads = [json.loads(r.body) for r in webhook_receiver.wait_for(5)]
    verdicts = {p["data"]["document_type"]: p["data"]["verification_status"] for p in payloads[1:4]}
    assert verdicts == {"invoice": "verified", "attestation_honneur": "rejected", "contract": "verified"}
    assert payloads[-1]["data"]["new_status"] == "rejected"


def test_no_webhook_url_records_events_without_delivering(sandbox: SandboxAdmin, partner: PartnerCaller) -> None:
    approved_intervention(sandbox, partner)
    assert len(sandbox.webhook_events()) == 5
    assert sandbox.webhook_deliveries() == []


def test_failed_delivery_is_retried_with_the_old_timestamp(
    sandbox: SandboxAdmin, partner: PartnerCaller, webhook_receiver: WebhookReceiver
) -> None:
    sandbox.configure(
        webhook_url=webhook_receiver.url,
        time_scale=10,
        webhook_retry={"initial_backoff": 1.0, "max_attempts": 3},
        **ONLY_FORCED_TRANSITIONS,
    )
    webhook_receiver.answer_next(500, 503)
    response = partner.create(create_request("int_retry"))
    sandbox.tick()  # one transition: one event
    first, second, third = webhook_receiver.wait_for(3)
    assert first.body == second.body == third.body  # same event time, same bytes
    assert signature_ok(third.body, third.headers["X-Symphonics-Signature"])
    (delivery,) = sandbox.webhook_deliveries()
    assert delivery["outcome"] == "delivered"
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 503, 200]
    assert json.loads(first.body)["data"]["intervention_id"] == response.json()["id"]


def test_delivery_gives_up_after_max_attempts(
    sandbox: SandboxAdmin, partner: PartnerCaller, webhook_receiver: WebhookReceiver
) -> None:
    sandbox.configure(
        webhook_url=webhook_receiver.url,
        time_scale=20,
        webhook_retry={"initial_backoff": 1.0, "max_attempts": 2},
        **ONLY_FORCED_TRANSITIONS,
    )
    webhook_receiver.default_status = 500
    partner.create(create_request("int_give_up"))
    sandbox.tick()
    sandbox.wait_for(lambda: [d for d in sandbox.webhook_deliveries() if d["outcome"] == "failed"])
    (delivery,) = sandbox.webhook_deliveries()
    assert len(delivery["attempts"]) == 2
    assert len(webhook_receiver.received) == 2


def test_connection_errors_are_retried_then_given_up(sandbox: SandboxAdmin, partner: PartnerCaller) -> None:
    sandbox.configure(
        webhook_url=f"http://127.0.0.1:{free_port()}/hook",
        time_scale=20,
        webhook_retry={"initial_backoff": 1.0, "max_attempts": 3, "timeout": 1.0},
        **ONLY_FORCED_TRANSITIONS,
    )
    partner.create(create_request("int_refused"))
    sandbox.tick()
    sandbox.wait_for(lambda: [d for d in sandbox.webhook_deliveries() if d["outcome"] == "failed"])
    (delivery,) = sandbox.webhook_deliveries()
    assert [a["error"] for a in delivery["attempts"]] == ["ConnectionError"] * 3


def test_duplicate_is_the_same_bytes(
    sandbox: SandboxAdmin, partner: PartnerCaller, webhook_receiver: WebhookReceiver
) -> None:
    sandbox.configure(webhook_url=webhook_receiver.url)
    approved_intervention(sandbox, partner)
    original = webhook_receiver.wait_for(5)[-1]
    delivery = sandbox.send_duplicate()
    assert delivery["kind"] == "duplicate"
    duplicate = webhook_receiver.wait_for(6)[-1]
    assert duplicate.body == original.body
    assert duplicate.headers["X-Symphonics-Signature"] == original.headers["X-Symphonics-Signature"]


def test_replay_of_an_old_event(
    sandbox: SandboxAdmin, partner: PartnerCaller, webhook_receiver: WebhookReceiver
) -> None:
    sandbox.configure(webhook_url=webhook_receiver.url)
    approved_intervention(sandbox, partner)
    first_event = sandbox.webhook_events()[0]
    webhook_receiver.wait_for(5)
    sandbox.send_replay(first_event["event_id"])
    same = webhook_receiver.wait_for(6)[-1]
    assert json.loads(same.body) == first_event["payload"]
    sandbox.send_replay(first_event["event_id"], age_seconds=600)
    old = webhook_receiver.wait_for(7)[-1]
    payload = json.loads(old.body)
    assert 590 < age_of(payload["timestamp"]) < 700  # older than the document's 5-minute window
    assert payload["data"] == first_event["payload"]["data"]
    assert signature_ok(old.body, old.headers["X-Symphonics-Signature"])


def test_bad_signature_is_not_retried(
    sandbox: SandboxAdmin, partner: PartnerCaller, webhook_receiver: WebhookReceiver
) -> None:
    sandbox.configure(webhook_url=webhook_receiver.url, time_scale=100)
    approved_intervention(sandbox, partner)
    webhook_receiver.wait_for(5)
    webhook_receiver.answer_next(401)
    sandbox.send_bad_signature()
    forged = webhook_receiver.wait_for(6)[-1]
    assert len(forged.headers["X-Symphonics-Signature"]) == 64
    assert not signature_ok(forged.body, forged.headers["X-Symphonics-Signature"])
    sandbox.wait_for(lambda: sandbox.webhook_deliveries()[-1]["outcome"] == "failed")
    time.sleep(0.2)
    assert len(webhook_receiver.received) == 6


def test_send_an_arbitrary_event_now(
    sandbox: SandboxAdmin, partner: PartnerCaller, webhook_receiver: WebhookReceiver
) -> None:
    sandbox.configure(webhook_url=webhook_receiver.url)
    created = partner.create(create_request("int_manual")).json()
    result = sandbox.send_webhook(created["id"], previous_status="processing", new_status="rejected", notes="Test")
    assert result["delivery"]["kind"] == "manual"
    (request,) = webhook_receiver.wait_for(1)
    payload = json.loads(request.body)
    assert payload["data"] == {
        "intervention_id": created["id"],
        "external_id": "int_manual",
        "previous_status": "processing",
        "new_status": "rejected",
        "notes": "Test",
    }
    assert signature_ok(request.body, request.headers["X-Symphonics-Signature"])
    sandbox.send_webhook(created["id"], event="document.verification")
    second = json.loads(webhook_receiver.wait_for(2)[-1].body)
    assert second["event"] == "document.verification"
    assert set(second["data"]) == DOCUMENT_VERIFICATION_EVENT_KEYS
