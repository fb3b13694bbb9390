"""Pure pieces of the client: the HTTPS rule, the 409 id, the settings from a connection's fields."""

from __future__ import annotations

import pytest

from include.symphonics.client import InsecureURLError, SymphonicsClient
from include.symphonics.client.client import ClientSettings, existing_intervention_id, require_secure_url


@pytest.mark.parametrize(
    "url",
    ["https://api.symphonics.fr", "http://127.0.0.1:8099", "http://localhost:8099/", "http://[::1]:8099"],
)
def test_accepted_base_urls(url: str) -> None:
    assert require_secure_url(url) == url.rstrip("/")


def test_plain_http_to_a_remote_host_is_refused_with_a_clear_error() -> None:
    with pytest.raises(InsecureURLError, match="HTTPS only"):
        require_secure_url("http://sandbox-api.symphonics.fr")
    with pytest.raises(InsecureURLError, match="https://"):
        SymphonicsClient(ClientSettings("http://api.symphonics.fr", "id", "secret"))


def test_plain_http_allowed_explicitly() -> None:
    assert require_secure_url("http://sandbox:8099", allow_insecure_http=True) == "http://sandbox:8099"


def test_other_schemes_are_refused() -> None:
    with pytest.raises(InsecureURLError):
        require_secure_url("ftp://api.symphonics.fr", allow_insecure_http=True)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"error": {"code": "CONFLICT", "message": "exists", "details": [], "request_id": "req_1"}}, None),
        (
            {
                "error": {
                    "code": "CONFLICT",
                    "details": [
                        {"field": "external_id", "message": "already exists"},
                        {"field": "id", "message": "sym_1"},
                    ],
                }
            },
            "sym_1",
        ),
        ({"error": {"code": "CONFLICT", "details": [{"field": "external_id", "message": "exists"}]}}, None),
        ({"error": {"code": "CONFLICT", "details": {"symphonics_id": "sym_2"}}}, "sym_2"),
        ({"error": {"code": "CONFLICT", "existing_id": "sym_3"}}, "sym_3"),
        ({"id": "sym_4"}, "sym_4"),
    ],
)
def test_existing_id_of_a_409(body: dict[str, object], expected: str | None) -> None:
    assert existing_intervention_id(body) == expected


def test_settings_never_show_the_secret() -> None:
    assert "hunter2-secret" not in repr(ClientSettings("https://x.example", "id", "hunter2-secret"))
