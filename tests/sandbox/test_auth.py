"""POST /auth/token, bearer tokens (missing, unknown, expired, revoked) and per-client route permissions."""

from __future__ import annotations

import time

import pytest
import requests

from tests.fixtures.sandbox import SandboxAdmin
from tests.sandbox.documented_examples import TOKEN_RESPONSE_KEYS
from tests.sandbox.partner import PartnerCaller, assert_error

pytestmark = pytest.mark.integration  # a real sandbox over loopback

TOKEN_FORM = {
    "grant_type": "client_credentials",
    "client_id": "wfa-sandbox-demo",
    "client_secret": "sandbox-demo-secret-not-for-production",
}


def test_token_as_documented(sandbox: SandboxAdmin) -> None:
    response = requests.post(f"{sandbox.url}/auth/token", data=TOKEN_FORM, timeout=5)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == TOKEN_RESPONSE_KEYS
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Type"].startswith("application/json")


def test_token_lifetime_is_configurable(sandbox: SandboxAdmin) -> None:
    sandbox.configure(token_expires_in=120)
    assert requests.post(f"{sandbox.url}/auth/token", data=TOKEN_FORM, timeout=5).json()["expires_in"] == 120


@pytest.mark.parametrize(
    ("form", "status", "code"),
    [
        ({**TOKEN_FORM, "client_secret": "wrong"}, 401, "UNAUTHORIZED"),
        ({**TOKEN_FORM, "client_id": "somebody-else"}, 401, "UNAUTHORIZED"),
        ({**TOKEN_FORM, "grant_type": "password"}, 400, "INVALID_REQUEST"),
        ({"grant_type": "client_credentials", "client_id": "wfa-sandbox-demo"}, 400, "INVALID_REQUEST"),
        ({}, 400, "INVALID_REQUEST"),
    ],
)
def test_token_refusals(sandbox: SandboxAdmin, form: dict, status: int, code: str) -> None:
    assert_error(requests.post(f"{sandbox.url}/auth/token", data=form, timeout=5), status, code)


def test_token_needs_a_form_body(sandbox: SandboxAdmin) -> None:
    error = assert_error(requests.post(f"{sandbox.url}/auth/token", json=TOKEN_FORM, timeout=5), 400, "INVALID_REQUEST")
    assert error["details"][0]["field"] == "Content-Type"


def test_missing_malformed_and_unknown_tokens_are_401(sandbox: SandboxAdmin) -> None:
    url = f"{sandbox.url}/validation/pdl/12345678901234"
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer"}, {"Authorization": "Bearer nope"}):
        response = requests.get(url, headers=headers, timeout=5)
        assert_error(response, 401, "UNAUTHORIZED")
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert "X-RateLimit-Limit" not in response.headers  # no client identified, nothing counted


def test_tokens_expire_after_expires_in(sandbox: SandboxAdmin) -> None:
    sandbox.configure(token_expires_in=1)
    token = sandbox.token()
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{sandbox.url}/validation/pdl/12345678901234"
    assert requests.get(url, headers=headers, timeout=5).status_code == 200
    time.sleep(1.2)
    error = assert_error(requests.get(url, headers=headers, timeout=5), 401, "UNAUTHORIZED")
    assert "expired" in error["message"].lower()


def test_revoking_every_token(sandbox: SandboxAdmin, partner: PartnerCaller) -> None:
    assert partner.get("/validation/pdl/12345678901234").status_code == 200
    assert sandbox.revoke_tokens() >= 1
    assert_error(partner.get("/validation/pdl/12345678901234"), 401, "UNAUTHORIZED")


def test_revoking_one_clients_tokens(sandbox: SandboxAdmin) -> None:
    sandbox.configure(
        clients=[
            {"client_id": "wfa-sandbox-demo", "client_secret": "sandbox-demo-secret-not-for-production"},
            {"client_id": "other", "client_secret": "other-secret"},
        ]
    )
    demo = {"Authorization": f"Bearer {sandbox.token()}"}
    other = {"Authorization": f"Bearer {sandbox.token('other', 'other-secret')}"}
    assert sandbox.revoke_tokens("other") == 1
    url = f"{sandbox.url}/validation/pdl/12345678901234"
    assert requests.get(url, headers=demo, timeout=5).status_code == 200
    assert_error(requests.get(url, headers=other, timeout=5), 401, "UNAUTHORIZED")


def test_allowed_routes_give_403_elsewhere(sandbox: SandboxAdmin) -> None:
    sandbox.configure(
        clients=[
            {
                "client_id": "wfa-sandbox-demo",
                "client_secret": "sandbox-demo-secret-not-for-production",
                "allowed_routes": ["validation", "crm.get_intervention"],
            }
        ]
    )
    headers = sandbox.auth_headers()
    assert requests.get(f"{sandbox.url}/validation/user/test.user@example.com", headers=headers, timeout=5).ok
    assert requests.get(f"{sandbox.url}/crm/interventions/sym_00000000", headers=headers, timeout=5).status_code == 404
    response = requests.post(f"{sandbox.url}/crm/interventions", headers=headers, json={}, timeout=5)
    assert_error(response, 403, "FORBIDDEN")
    assert "X-RateLimit-Remaining" in response.headers


def test_tokens_are_opaque_and_never_in_the_call_log(sandbox: SandboxAdmin) -> None:
    token = sandbox.token()
    assert len(token) >= 32
    assert token not in str(sandbox.calls())
