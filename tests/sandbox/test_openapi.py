"""/openapi.json matches the partner's document, and schemathesis finds no server error against it."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from include.symphonics_sandbox import create_app
from include.symphonics_sandbox.config import config_from_dict

with warnings.catch_warnings():
    # Starlette nudges towards httpx2 for its TestClient; the httpx one is what is installed.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

DOCUMENTED_OPERATIONS = {
    ("/auth/token", "post"): {200},
    ("/validation/pdl/{pdl}", "get"): {200, 400},
    ("/validation/pdl/lookup", "post"): {200},
    ("/validation/user/{email}", "get"): {200, 404},
    ("/crm/interventions", "post"): {201},
    ("/crm/interventions/{id}", "get"): {200},
    ("/crm/interventions/{id}", "patch"): {200},
}
#: Codes of the document's error table every authenticated operation may answer.
TABLE_CODES = {401, 403, 429, 500}

# Limits raised so generated calls are never throttled; no fault is armed.
APP = create_app(config_from_dict({"rate_limit_per_minute": 1_000_000, "rate_limit_per_day": 10_000_000}))
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    with TestClient(APP) as client:
        return dict(client.get("/openapi.json").json())


def test_paths_and_methods_are_the_documents(openapi: dict[str, Any]) -> None:
    operations = {(path, method) for path, item in openapi["paths"].items() for method in item}
    assert operations == set(DOCUMENTED_OPERATIONS)


def test_documented_response_codes(openapi: dict[str, Any]) -> None:
    for (path, method), codes in DOCUMENTED_OPERATIONS.items():
        documented = {int(code) for code in openapi["paths"][path][method]["responses"]}
        assert codes <= documented, (path, method)
        if path != "/auth/token":
            assert documented >= TABLE_CODES
            assert openapi["paths"][path][method]["security"] == [{"bearerAuth": []}]


def test_request_bodies(openapi: dict[str, Any]) -> None:
    paths = openapi["paths"]
    token_body = paths["/auth/token"]["post"]["requestBody"]["content"]
    assert list(token_body) == ["application/x-www-form-urlencoded"]
    schemas = openapi["components"]["schemas"]
    assert set(schemas["TokenRequest"]["required"]) == {"grant_type", "client_id", "client_secret"}
    create = schemas["InterventionCreate"]
    assert set(create["properties"]) == {
        "customer",
        "installation",
        "services",
        "equipment",
        "documents",
        "photos",
        "installer",
        "completion_date",
        "external_id",
    }
    assert set(schemas["PdlLookupRequest"]["properties"]) == {"address", "customer_name"}
    assert set(schemas["InterventionUpdate"]["properties"]) == {"documents"}  # photos are not patchable
    assert "HTTPValidationError" not in schemas


def test_admin_api_is_not_in_the_document(openapi: dict[str, Any]) -> None:
    assert not [path for path in openapi["paths"] if path.startswith("/_sandbox")]


@pytest.fixture(scope="module")
def bearer() -> dict[str, str]:
    with TestClient(APP) as client:
        response = client.post(
            "/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "wfa-sandbox-demo",
                "client_secret": "sandbox-demo-secret-not-for-production",
            },
        )
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


@SCHEMA.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_error(case: schemathesis.Case, bearer: dict[str, str]) -> None:
    case.call_and_validate(
        headers=bearer,
        checks=[
            checks.not_a_server_error,
            checks.status_code_conformance,
            checks.content_type_conformance,
            checks.response_schema_conformance,
        ],
    )
