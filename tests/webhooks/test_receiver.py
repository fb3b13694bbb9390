"""The webhook vectors through the ASGI app: status codes, exactly-once storage, late events, rejections."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from include.symphonics.webhooks import WebhookSettings, create_webhook_app
from tests.webhooks.conftest import (
    PREVIOUS_SECRET,
    RETIRED_SECRET,
    document_verification,
    encode,
    flush_refusals,
    rows,
    sign,
    signed_headers,
    status_update,
)

EVENTS = "SELECT * FROM symphonics.webhook_events ORDER BY id"
REJECTIONS = "SELECT * FROM symphonics.webhook_rejections ORDER BY id"
POLLS = "SELECT * FROM symphonics.status_poll_queue ORDER BY id"


def post(client: TestClient, body: bytes, headers: dict[str, str], path: str = "/") -> Any:
    return client.post(path, content=body, headers=headers)


def test_valid_status_update_is_stored_with_its_fields(client: TestClient, webhook_db: str) -> None:
    body = encode(status_update())
    response = post(client, body, signed_headers(body))
    assert response.status_code == 200
    assert response.json()["status"] == "stored"
    assert response.json()["unknown_event"] is False
    [event] = rows(webhook_db, EVENTS)
    assert event["event_type"] == "intervention.status_update"
    assert event["intervention_id"] == "sym_87654321"
    assert event["external_id"] == "int_12345678"
    assert (event["previous_status"], event["new_status"]) == ("processing", "approved")
    assert event["notes"] == "All documents verified successfully"
    assert event["raw_body"].encode() == body  # exactly the signed bytes, so the signature can be re-checked
    assert event["signature_secret_used"] == "current"
    assert event["late"] is False
    assert event["unknown_event"] is False
    assert event["processed_at"] is None
    assert rows(webhook_db, REJECTIONS) == []
    assert rows(webhook_db, POLLS) == []


def test_valid_document_verification_is_stored_with_its_fields(client: TestClient, webhook_db: str) -> None:
    body = encode(document_verification())
    response = post(client, body, signed_headers(body))
    assert response.status_code == 200
    [event] = rows(webhook_db, EVENTS)
    assert event["event_type"] == "document.verification"
    assert (event["document_type"], event["verification_status"]) == ("attestation_honneur", "verified")
    assert event["new_status"] is None


def test_the_documented_examples_verbatim_are_understood(client: TestClient, webhook_db: str) -> None:
    # Stamped now, otherwise byte for byte the document's two examples (whitespace included).
    for example in (
        '{\n  "event": "intervention.status_update",\n  "timestamp": "%s",\n  "data": {\n'
        '    "intervention_id": "sym_87654321",\n    "external_id": "int_12345678",\n'
        '    "previous_status": "processing",\n    "new_status": "approved",\n'
        '    "notes": "All documents verified successfully"\n  }\n}',
        '{\n  "event": "document.verification",\n  "timestamp": "%s",\n  "data": {\n'
        '    "intervention_id": "sym_87654321",\n    "external_id": "int_12345678",\n'
        '    "document_type": "attestation_honneur",\n    "verification_status": "verified",\n'
        '    "notes": "Document verified successfully"\n  }\n}',
    ):
        body = (example % status_update()["timestamp"]).encode()
        assert post(client, body, signed_headers(body)).status_code == 200
    assert len(rows(webhook_db, EVENTS)) == 2


def test_bad_signature_is_401_and_counted_without_the_body(client: TestClient, webhook_db: str) -> None:
    body = encode(status_update())
    response = post(client, body, signed_headers(body, secret="not-the-secret"))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"
    assert rows(webhook_db, EVENTS) == []
    flush_refusals(client)
    [rejection] = rows(webhook_db, REJECTIONS)
    assert rejection["reason"] == "bad_signature"
    assert rejection["status_code"] == 401
    assert rejection["body_size"] == len(body)
    assert rejection["signature_valid"] is False
    assert rejection["signed_body"] is None
    assert rejection["request_id"] == response.json()["error"]["request_id"]


def test_bad_signature_is_logged_without_secret_or_body(
    client: TestClient, webhook_db: str, caplog: pytest.LogCaptureFixture
) -> None:
    body = encode(status_update(notes="a very private note"))
    with caplog.at_level("INFO"):
        post(client, body, signed_headers(body, secret="not-the-secret"))
    text = caplog.text
    assert "bad_signature" in text
    for leak in ("a very private note", sign(body, "not-the-secret"), "current-webhook-secret", "previous-webhook"):
        assert leak not in text


@pytest.mark.parametrize(
    ("header", "reason"),
    [(None, "missing_signature"), ("", "bad_signature"), ("sha256=abc", "bad_signature"), ("z" * 64, "bad_signature")],
)
def test_missing_or_malformed_signature_is_401(
    client: TestClient, webhook_db: str, header: str | None, reason: str
) -> None:
    body = encode(status_update())
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["X-Symphonics-Signature"] = header
    assert post(client, body, headers).status_code == 401
    flush_refusals(client)
    assert [r["reason"] for r in rows(webhook_db, REJECTIONS)] == [reason]
    assert rows(webhook_db, EVENTS) == []


def test_uppercase_hex_signature_is_accepted(client: TestClient, webhook_db: str) -> None:
    body = encode(status_update())
    headers = {"Content-Type": "application/json", "X-Symphonics-Signature": sign(body).upper()}
    assert post(client, body, headers).status_code == 200


def test_previous_secret_is_accepted_during_a_rotation(client: TestClient, webhook_db: str) -> None:
    body = encode(status_update())
    assert post(client, body, signed_headers(body, secret=PREVIOUS_SECRET)).status_code == 200
    [event] = rows(webhook_db, EVENTS)
    assert event["signature_secret_used"] == "previous"
    retired = encode(status_update(new_status="rejected"))
    assert post(client, retired, signed_headers(retired, secret=RETIRED_SECRET)).status_code == 401


def test_without_a_previous_secret_only_the_current_one_signs(webhook_db: str) -> None:
    from tests.webhooks.conftest import SECRET

    app = create_webhook_app(WebhookSettings(secret=SECRET, dsn=webhook_db))
    with TestClient(app) as client:
        body = encode(status_update())
        assert post(client, body, signed_headers(body, secret=PREVIOUS_SECRET)).status_code == 401
        assert post(client, body, signed_headers(body)).status_code == 200
    app.state.receiver.close()


@pytest.mark.parametrize(("age", "reason"), [(301, "stale"), (3 * 86400, "stale"), (-301, "future")])
def test_late_or_early_event_is_422_stored_flagged_and_polled(
    client: TestClient, webhook_db: str, age: float, reason: str
) -> None:
    body = encode(status_update("sym_late", age=age))
    response = post(client, body, signed_headers(body))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"][0]["field"] == "timestamp"
    [event] = rows(webhook_db, EVENTS)
    assert event["late"] is True
    assert event["intervention_id"] == "sym_late"
    [poll] = rows(webhook_db, POLLS)
    assert (poll["intervention_id"], poll["external_id"], poll["reason"]) == (
        "sym_late",
        "int_12345678",
        "late_webhook",
    )
    assert poll["done_at"] is None
    assert poll["webhook_event_id"] == event["id"]
    [rejection] = rows(webhook_db, REJECTIONS)
    assert rejection["reason"] == reason
    assert rejection["status_code"] == 422
    assert rejection["webhook_event_id"] == event["id"]
    assert rejection["signature_valid"] is True


def test_within_the_window_either_way_is_on_time(client: TestClient, webhook_db: str) -> None:
    for age in (290, -290):
        body = encode(status_update(age=age, new_status=f"s{age}"))
        assert post(client, body, signed_headers(body)).status_code == 200
    assert [e["late"] for e in rows(webhook_db, EVENTS)] == [False, False]


def test_late_event_with_a_bad_signature_is_only_a_401(client: TestClient, webhook_db: str) -> None:
    body = encode(status_update(age=3600))
    assert post(client, body, signed_headers(body, secret="forged")).status_code == 401
    assert rows(webhook_db, EVENTS) == []
    assert rows(webhook_db, POLLS) == []


def test_replayed_event_is_200_twice_and_stored_once(client: TestClient, webhook_db: str) -> None:
    body = encode(status_update())
    first = post(client, body, signed_headers(body))
    second = post(client, body, signed_headers(body))
    assert (first.status_code, second.status_code) == (200, 200)
    assert (first.json()["status"], second.json()["status"]) == ("stored", "duplicate")
    assert len(rows(webhook_db, EVENTS)) == 1


def test_same_event_spelled_differently_is_one_event(client: TestClient, webhook_db: str) -> None:
    # Key order, whitespace, notes and the time zone of the timestamp differ; the event does not.
    payload = status_update()
    first = encode(payload)
    moved = dict(payload, timestamp=payload["timestamp"].replace("Z", "+00:00"))
    moved["data"] = dict(reversed(list(payload["data"].items())), notes="re-rendered")
    second = json.dumps(moved, indent=2).encode()
    assert post(client, first, signed_headers(first)).json()["status"] == "stored"
    assert post(client, second, signed_headers(second)).json()["status"] == "duplicate"
    assert len(rows(webhook_db, EVENTS)) == 1


def test_different_transitions_of_one_intervention_are_distinct(client: TestClient, webhook_db: str) -> None:
    for payload in (
        status_update(previous_status="created", new_status="processing"),
        status_update(previous_status="processing", new_status="approved"),
        document_verification(document_type="invoice"),
        document_verification(document_type="contract"),
    ):
        body = encode(payload)
        assert post(client, body, signed_headers(body)).json()["status"] == "stored"
    assert len(rows(webhook_db, EVENTS)) == 4


def test_replayed_late_event_is_stored_and_polled_once(client: TestClient, webhook_db: str) -> None:
    body = encode(status_update(age=900))
    assert [post(client, body, signed_headers(body)).status_code for _ in range(3)] == [422, 422, 422]
    assert len(rows(webhook_db, EVENTS)) == 1
    assert len(rows(webhook_db, POLLS)) == 1
    rejections = rows(webhook_db, REJECTIONS)
    assert len(rejections) == 3
    assert {r["webhook_event_id"] for r in rejections} == {rows(webhook_db, EVENTS)[0]["id"]}


def test_second_late_intervention_event_while_a_poll_is_pending_queues_nothing_more(
    client: TestClient, webhook_db: str
) -> None:
    for new_status in ("approved", "rejected"):
        body = encode(status_update(age=900, new_status=new_status))
        assert post(client, body, signed_headers(body)).status_code == 422
    assert len(rows(webhook_db, EVENTS)) == 2
    assert len(rows(webhook_db, POLLS)) == 1


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"",
        b"[]",
        b'"a string"',
        b"\xff\xfe not utf-8",
        b"[" * 20000 + b"]" * 20000,
    ],
    ids=["broken", "empty", "array", "string", "not-utf8", "deep"],
)
def test_malformed_json_is_400_and_keeps_the_signed_body(client: TestClient, webhook_db: str, body: bytes) -> None:
    response = post(client, body, signed_headers(body))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_REQUEST"
    assert rows(webhook_db, EVENTS) == []
    [rejection] = rows(webhook_db, REJECTIONS)
    assert rejection["reason"] == "malformed"
    assert rejection["signature_valid"] is True
    assert rejection["signed_body"] is not None


def _without(payload: dict[str, Any], key: str) -> dict[str, Any]:
    if key.startswith("data."):
        return dict(payload, data={k: v for k, v in payload["data"].items() if k != key[5:]})
    return {k: v for k, v in payload.items() if k != key}


@pytest.mark.parametrize(
    "payload",
    [
        _without(status_update(), "event"),
        _without(status_update(), "timestamp"),
        _without(status_update(), "data"),
        _without(status_update(), "data.intervention_id"),
        _without(status_update(), "data.new_status"),
        _without(document_verification(), "data.document_type"),
        _without(document_verification(), "data.verification_status"),
        dict(status_update(), event=""),
        dict(status_update(), event=7),
        dict(status_update(), timestamp="yesterday"),
        dict(status_update(), timestamp="2025-03-26T14:30:00"),  # no time zone
        dict(status_update(), timestamp="0001-01-01T00:00:00+01:00"),  # out of range in UTC
        dict(status_update(), timestamp=1742999400),
        dict(status_update(), data=["sym_1"]),
        status_update(intervention_id=""),
        status_update(intervention_id=42),  # type: ignore[arg-type]
        status_update(intervention_id="sym\x00nul"),
        status_update(intervention_id="\ud800"),  # a lone surrogate, which PostgreSQL cannot store
        status_update(intervention_id="x" * 5000),  # would not fit an index entry
        status_update(notes=["not", "text"]),
    ],
)
def test_missing_or_wrong_fields_are_400(client: TestClient, webhook_db: str, payload: dict[str, Any]) -> None:
    body = encode(payload)
    response = post(client, body, signed_headers(body))
    assert response.status_code == 400, response.text
    assert rows(webhook_db, EVENTS) == []
    assert [r["reason"] for r in rows(webhook_db, REJECTIONS)] == ["malformed"]


def test_null_optional_fields_are_accepted(client: TestClient, webhook_db: str) -> None:
    body = encode(status_update(external_id=None, previous_status=None, notes=None))
    assert post(client, body, signed_headers(body)).status_code == 200


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1", None],
)
def test_wrong_content_type_is_415(client: TestClient, webhook_db: str, content_type: str | None) -> None:
    body = encode(status_update())
    headers = {"X-Symphonics-Signature": sign(body)}
    if content_type is not None:
        headers["Content-Type"] = content_type
    response = post(client, body, headers)
    assert response.status_code == 415
    assert rows(webhook_db, EVENTS) == []
    flush_refusals(client)
    assert [r["reason"] for r in rows(webhook_db, REJECTIONS)] == ["wrong_content_type"]


def test_json_content_type_with_utf8_charset_is_accepted(client: TestClient, webhook_db: str) -> None:
    body = encode(status_update())
    assert post(client, body, signed_headers(body, content_type="application/json; charset=UTF-8")).status_code == 200


def test_huge_body_is_413_and_not_stored(client: TestClient, webhook_db: str) -> None:
    body = encode(status_update(notes="x" * 70_000))
    response = post(client, body, signed_headers(body))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert rows(webhook_db, EVENTS) == []
    flush_refusals(client)
    [rejection] = rows(webhook_db, REJECTIONS)
    assert rejection["reason"] == "too_large"
    assert rejection["body_size"] == len(body)
    assert rejection["signed_body"] is None


def test_huge_body_without_a_length_is_413(client: TestClient, webhook_db: str) -> None:
    body = encode(status_update(notes="x" * 200_000))
    chunks = (body[i : i + 8192] for i in range(0, len(body), 8192))  # chunked: no Content-Length
    response = client.post("/", content=chunks, headers=signed_headers(body))
    assert response.status_code == 413
    assert rows(webhook_db, EVENTS) == []


def test_body_at_the_limit_is_accepted(webhook_db: str) -> None:
    from tests.webhooks.conftest import SECRET

    payload = status_update(notes="")
    body = encode(payload)
    app = create_webhook_app(WebhookSettings(secret=SECRET, dsn=webhook_db, max_body_bytes=len(body)))
    with TestClient(app) as client:
        assert post(client, body, signed_headers(body)).status_code == 200
        longer = encode(status_update(notes="y"))  # one byte more
        assert post(client, longer, signed_headers(longer)).status_code == 413
    app.state.receiver.close()


@pytest.mark.parametrize(
    "data", [{"intervention_id": "sym_9", "whatever": [1, 2]}, None, "text", {"intervention_id": 5}]
)
def test_unknown_event_is_stored_and_flagged(client: TestClient, webhook_db: str, data: Any) -> None:
    payload = {"event": "intervention.archived", "timestamp": status_update()["timestamp"], "data": data}
    body = encode(payload)
    response = post(client, body, signed_headers(body))
    assert response.status_code == 200
    assert response.json()["unknown_event"] is True
    [event] = rows(webhook_db, EVENTS)
    assert event["unknown_event"] is True
    assert event["event_type"] == "intervention.archived"
    expected_id = data.get("intervention_id") if isinstance(data, dict) else None
    assert event["intervention_id"] == (expected_id if isinstance(expected_id, str) else None)
    assert post(client, body, signed_headers(body)).json()["status"] == "duplicate"


def test_other_methods_and_paths_are_4xx(client: TestClient) -> None:
    assert client.get("/").status_code == 405
    assert client.post("/elsewhere", content=b"{}").status_code == 404
    assert client.get("/docs").status_code == 404  # no generated docs on an internet-facing app


def test_health_answers_when_the_database_does(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}


def test_database_down_is_503_for_valid_events_and_4xx_stays_4xx(webhook_db: str) -> None:
    from tests.webhooks.conftest import SECRET

    dsn = webhook_db.rsplit("/", 1)[0] + "/no_such_database_here"
    app = create_webhook_app(WebhookSettings(secret=SECRET, dsn=dsn))
    with TestClient(app) as client:
        body = encode(status_update())
        response = post(client, body, signed_headers(body))
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "30"
        assert post(client, body, signed_headers(body, secret="forged")).status_code == 401
        assert client.get("/health").status_code == 503
    app.state.receiver.close()


def test_settings_are_read_on_the_first_request_only(webhook_db: str) -> None:
    from tests.webhooks.conftest import SECRET

    calls: list[int] = []

    def settings() -> WebhookSettings:
        calls.append(1)
        return WebhookSettings(secret=SECRET, dsn=webhook_db)

    app = create_webhook_app(settings)
    assert calls == []
    with TestClient(app) as client:
        for new_status in ("a", "b"):
            body = encode(status_update(new_status=new_status))
            assert post(client, body, signed_headers(body)).status_code == 200
    assert calls == [1]
    app.state.receiver.close()


def test_unconfigured_receiver_is_503_not_a_crash() -> None:
    from include.symphonics.webhooks.settings import WebhookConfigurationError

    def settings() -> WebhookSettings:
        raise WebhookConfigurationError("no webhook secret")

    with TestClient(create_webhook_app(settings)) as client:
        body = encode(status_update())
        assert post(client, body, signed_headers(body)).status_code == 503
