"""The admin API answers only the developer's own tools: JSON only, a loopback ``Host``, the admin token, no
secret in its answers, and webhooks only to the configured URL (issue 19, point 3).

Each refusal is checked on the real server over loopback, and shown to leave nothing behind (no event, no
delivery, no configuration change).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator

import pytest
import requests

from include.symphonics_sandbox import SandboxConfig, create_app
from include.symphonics_sandbox.config import ConfigError, config_from_dict
from tests.fixtures.sandbox import (
    ADMIN_TOKEN,
    ADMIN_TOKEN_HEADER,
    DEMO_CLIENT_SECRET,
    DEMO_WEBHOOK_SECRET,
    SandboxAdmin,
    WebhookReceiver,
    run_webhook_receiver,
)
from tests.sandbox.documented_examples import create_request
from tests.sandbox.partner import PartnerCaller

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

pytestmark = pytest.mark.integration  # a real sandbox over loopback


@pytest.fixture
def raw() -> Iterator[requests.Session]:
    """A bare HTTP session: no admin token, no default content type."""
    session = requests.Session()
    session.trust_env = False
    try:
        yield session
    finally:
        session.close()


def _error_code(response: requests.Response) -> str:
    return str(response.json()["error"]["code"])


def _intervention(sandbox: SandboxAdmin, partner: PartnerCaller, webhook_receiver: WebhookReceiver) -> str:
    sandbox.configure(webhook_url=webhook_receiver.url, processing_delay=1_000_000, decision_delay=1_000_000)
    created = partner.create(create_request("int_admin_guard"))
    assert created.status_code == 201
    return str(created.json()["id"])


def test_text_plain_and_forms_are_refused_and_nothing_is_sent(
    sandbox: SandboxAdmin, partner: PartnerCaller, webhook_receiver: WebhookReceiver, raw: requests.Session
) -> None:
    intervention_id = _intervention(sandbox, partner, webhook_receiver)
    events_before = len(sandbox.webhook_events())
    body = json.dumps({"intervention_id": intervention_id, "data": {"new_status": "rejected"}})
    # What a web page can send cross-origin without a preflight: text/plain, a form, no type at all.
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None):
        headers = {ADMIN_TOKEN_HEADER: ADMIN_TOKEN}
        if content_type:
            headers["Content-Type"] = content_type
        response = raw.post(f"{sandbox.url}/_sandbox/webhooks/send", data=body, headers=headers, timeout=5)
        assert response.status_code == 415, content_type
    bare_reset = raw.post(f"{sandbox.url}/_sandbox/reset", headers={ADMIN_TOKEN_HEADER: ADMIN_TOKEN}, timeout=5)
    assert bare_reset.status_code == 415  # a POST says it is JSON, even without a body
    assert len(sandbox.webhook_events()) == events_before
    assert sandbox.webhook_deliveries() == []
    assert webhook_receiver.received == []


def test_a_foreign_host_is_refused_even_with_the_token(sandbox: SandboxAdmin, raw: requests.Session) -> None:
    headers = {ADMIN_TOKEN_HEADER: ADMIN_TOKEN}
    # A DNS-rebinding page reaches 127.0.0.1 under its own name, which the Host header carries.
    for host in ("evil.example", f"evil.example:{sandbox.url.rsplit(':', 1)[1]}", "127.0.0.1.evil.example"):
        response = raw.get(f"{sandbox.url}/_sandbox/config", headers={**headers, "Host": host}, timeout=5)
        assert response.status_code == 403, host
        assert _error_code(response) == "FORBIDDEN"
        assert raw.get(f"{sandbox.url}/_sandbox/health", headers={"Host": host}, timeout=5).status_code == 403
    for host in ("localhost", "127.0.0.1:8099", "[::1]:8099", "LOCALHOST"):
        response = raw.get(f"{sandbox.url}/_sandbox/config", headers={**headers, "Host": host}, timeout=5)
        assert response.status_code == 200, host


def test_a_missing_or_wrong_token_is_refused(sandbox: SandboxAdmin, raw: requests.Session) -> None:
    sandbox.configure(time_scale=7)
    for headers in ({}, {ADMIN_TOKEN_HEADER: ""}, {ADMIN_TOKEN_HEADER: ADMIN_TOKEN + "x"}):
        for method, path, body in (
            ("GET", "/config", None),
            ("GET", "/calls", None),
            ("POST", "/reset", {}),
            ("PATCH", "/config", {"time_scale": 1}),
            ("DELETE", "/faults", None),
        ):
            response = raw.request(method, f"{sandbox.url}/_sandbox{path}", json=body, headers=headers, timeout=5)
            assert response.status_code == 401, (method, path, headers)
            assert _error_code(response) == "UNAUTHORIZED"
    assert sandbox.config()["time_scale"] == 7  # neither the PATCH nor the reset went through
    # The liveness probe stays open (no secret, no effect): make run and compose's health check use it.
    assert raw.get(f"{sandbox.url}/_sandbox/health", timeout=5).json()["status"] == "ok"


def test_webhooks_go_only_to_the_configured_url(
    sandbox: SandboxAdmin, partner: PartnerCaller, webhook_receiver: WebhookReceiver
) -> None:
    intervention_id = _intervention(sandbox, partner, webhook_receiver)
    with run_webhook_receiver() as elsewhere:
        for path, body in (
            ("/webhooks/send", {"intervention_id": intervention_id, "url": elsewhere.url}),
            ("/webhooks/duplicate", {"url": elsewhere.url}),
            ("/webhooks/replay", {"url": elsewhere.url, "age_seconds": 600}),
            ("/webhooks/bad_signature", {"url": elsewhere.url}),
        ):
            response = sandbox.http.post(f"{sandbox.url}/_sandbox{path}", json=body, timeout=5)
            assert response.status_code == 422, path
            assert response.json()["error"]["details"][0]["field"] == "url"
        assert sandbox.webhook_deliveries() == []
        # Without a url the same request goes where the configuration says.
        sandbox.send_webhook(intervention_id, new_status="processing")
        (delivered,) = webhook_receiver.wait_for(1)
        assert json.loads(delivered.body)["data"]["intervention_id"] == intervention_id
        assert [d["url"] for d in sandbox.webhook_deliveries()] == [webhook_receiver.url]
        assert elsewhere.received == []


def test_the_configuration_shows_no_secret(sandbox: SandboxAdmin) -> None:
    shown = sandbox.config()
    text = json.dumps(shown)
    for secret in (DEMO_CLIENT_SECRET, DEMO_WEBHOOK_SECRET, ADMIN_TOKEN):
        assert secret not in text
    assert shown["webhook_secret"] == "***"
    assert [client["client_secret"] for client in shown["clients"]] == ["***"]
    assert "admin_token" not in shown
    changed = sandbox.configure(time_scale=3)
    assert DEMO_WEBHOOK_SECRET not in json.dumps(changed)
    # The secrets still work: a token is still issued with the demo client's secret.
    assert sandbox.token()


def test_the_admin_token_cannot_be_changed_at_run_time(sandbox: SandboxAdmin) -> None:
    response = sandbox.http.patch(f"{sandbox.url}/_sandbox/config", json={"admin_token": "x" * 40}, timeout=5)
    assert response.status_code == 422
    assert sandbox.health()["status"] == "ok"
    assert sandbox.config()  # the session's token still opens it


def test_without_a_configured_token_the_admin_api_is_closed() -> None:
    with TestClient(create_app(SandboxConfig()), base_url="http://127.0.0.1") as client:
        for headers in ({}, {ADMIN_TOKEN_HEADER: ADMIN_TOKEN}):
            response = client.get("/_sandbox/config", headers=headers)
            assert response.status_code == 403
            assert "SYMPHONICS_SANDBOX_ADMIN_TOKEN" in response.json()["error"]["message"]
        assert client.get("/_sandbox/health").status_code == 200


def test_a_short_admin_token_is_refused() -> None:
    with pytest.raises(ConfigError, match="admin_token"):
        config_from_dict({"admin_token": "short"})
