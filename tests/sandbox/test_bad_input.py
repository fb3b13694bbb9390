"""Bad input answers in the documented error format (400/404/405/413/422), never a 500, never a crash."""

from __future__ import annotations

import gzip
import json

import pytest
import requests

from tests.fixtures.sandbox import SandboxAdmin
from tests.sandbox.documented_examples import PDL_LOOKUP_REQUEST, create_request
from tests.sandbox.partner import PartnerCaller, assert_error

pytestmark = pytest.mark.integration  # a real sandbox over loopback


@pytest.mark.parametrize(
    "body", [b"{", b"not json", b"\xff\xfe\x00", b"[" * 100_000, b'{"a": NaN}', b"", b'{"a": 1} trailing']
)
def test_malformed_json_is_400(partner: PartnerCaller, body: bytes) -> None:
    response = partner.post("/crm/interventions", data=body, headers={"Content-Type": "application/json"})
    error = assert_error(response, 400, "INVALID_REQUEST")
    assert error["message"] == "Malformed JSON body"


@pytest.mark.parametrize("body", [b"[]", b"42", b'"text"', b"null"])
def test_json_that_is_not_an_object_is_422(partner: PartnerCaller, body: bytes) -> None:
    response = partner.post("/crm/interventions", data=body, headers={"Content-Type": "application/json"})
    assert_error(response, 422, "VALIDATION_ERROR")


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_wrong_content_type_is_400(partner: PartnerCaller, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = partner.post("/validation/pdl/lookup", data=json.dumps(PDL_LOOKUP_REQUEST), headers=headers)
    error = assert_error(response, 400, "INVALID_REQUEST")
    assert error["details"][0]["field"] == "Content-Type"


def test_json_with_charset_is_fine(partner: PartnerCaller) -> None:
    response = partner.post(
        "/validation/pdl/lookup",
        data=json.dumps(PDL_LOOKUP_REQUEST).encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200


def test_body_over_one_megabyte_is_413(partner: PartnerCaller) -> None:
    body = create_request("int_big")
    body["customer"]["first_name"] = "x" * 1_100_000
    assert_error(partner.create(body), 413, "INVALID_REQUEST")


def test_chunked_body_over_the_limit_is_413(partner: PartnerCaller) -> None:
    def chunks():  # no Content-Length: the limit is enforced while reading
        for _ in range(20):
            yield b" " * 100_000

    response = partner.post("/crm/interventions", data=chunks(), headers={"Content-Type": "application/json"})
    assert_error(response, 413, "INVALID_REQUEST")


def test_gzip_bodies_are_refused_unless_configured(sandbox: SandboxAdmin, partner: PartnerCaller) -> None:
    compressed = gzip.compress(json.dumps(create_request("int_gzip")).encode())
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    error = assert_error(partner.post("/crm/interventions", data=compressed, headers=headers), 400, "INVALID_REQUEST")
    assert error["details"] == [{"field": "Content-Encoding", "message": "Not accepted"}]
    assert sandbox.interventions() == []
    sandbox.configure(accept_gzip=True)
    assert partner.post("/crm/interventions", data=compressed, headers=headers).status_code == 201


def test_gzip_bomb_and_corrupt_gzip(sandbox: SandboxAdmin, partner: PartnerCaller) -> None:
    sandbox.configure(accept_gzip=True)
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    bomb = gzip.compress(b" " * 5_000_000)
    assert_error(partner.post("/crm/interventions", data=bomb, headers=headers), 413, "INVALID_REQUEST")
    corrupt = gzip.compress(b'{"a": 1}')[:-6]
    assert_error(partner.post("/crm/interventions", data=corrupt, headers=headers), 400, "INVALID_REQUEST")
    assert_error(partner.post("/crm/interventions", data=b"plain", headers=headers), 400, "INVALID_REQUEST")


def test_responses_are_gzipped_when_asked(sandbox: SandboxAdmin, partner: PartnerCaller) -> None:
    partner.create(create_request("int_gz_out"))
    url = f"{sandbox.url}/_sandbox/interventions"  # a body large enough to be worth compressing
    compressed = requests.get(url, headers={"Accept-Encoding": "gzip", **sandbox.admin_headers}, timeout=5)
    assert compressed.headers["Content-Encoding"] == "gzip"
    assert compressed.json()["interventions"][0]["external_id"] == "int_gz_out"
    plain = requests.get(url, headers={"Accept-Encoding": "identity", **sandbox.admin_headers}, timeout=5)
    assert "Content-Encoding" not in plain.headers


@pytest.mark.parametrize(
    "path",
    [
        "/validation/user/%00",
        "/validation/user/" + "a" * 10_000 + "@example.com",
        "/validation/user/%E2%98%83@%E2%98%83.fr",
        "/validation/user/%ZZ",
        "/validation/pdl/%00",
        "/crm/interventions/%00",
        "/crm/interventions/" + "9" * 5000,
        "/crm/interventions/%F0%9F%92%A5",
    ],
)
def test_odd_path_parameters_never_500(partner: PartnerCaller, path: str) -> None:
    response = partner.get(path)
    assert response.status_code in (400, 404), response.text
    body = response.json()
    assert "error" in body or body.get("valid") is False


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/nowhere", 404),
        ("GET", "/auth/token", 405),
        ("DELETE", "/crm/interventions/sym_1", 405),
        ("GET", "/crm/interventions/", 404),
        ("POST", "/auth/token/", 404),
    ],
)
def test_unknown_paths_and_methods(sandbox: SandboxAdmin, method: str, path: str, status: int) -> None:
    response = requests.request(method, sandbox.url + path, timeout=5)
    error = assert_error(response, status, "NOT_FOUND" if status == 404 else "INVALID_REQUEST")
    assert error["details"] == []


def test_wrong_json_types_are_422_with_paths(partner: PartnerCaller) -> None:
    body = create_request("int_types")
    body["photos"] = {"type": "before"}
    body["services"][0] = "BAR-TH-173"
    error = assert_error(partner.create(body), 422, "VALIDATION_ERROR")
    assert [d["field"] for d in error["details"]] == ["services[0]", "photos"]


def test_server_survives_all_of_it(sandbox: SandboxAdmin) -> None:
    assert sandbox.health()["status"] == "ok"
