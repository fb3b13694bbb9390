"""A minimal caller of the sandbox's partner routes for the tests (plain requests, not the project's client)."""

from __future__ import annotations

import re
from typing import Any

import requests

from tests.fixtures.sandbox import SandboxAdmin


class PartnerCaller:
    """Calls partner routes with a bearer token obtained once.

    :param sandbox: the admin helper of the sandbox under test.
    """

    def __init__(self, sandbox: SandboxAdmin) -> None:
        self.url = sandbox.url
        self.http = requests.Session()
        self.http.trust_env = False
        self.token = sandbox.token()
        self.http.headers["Authorization"] = f"Bearer {self.token}"

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        """GET a partner path."""
        return self.http.get(self.url + path, timeout=kwargs.pop("timeout", 10), **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        """POST to a partner path."""
        return self.http.post(self.url + path, timeout=kwargs.pop("timeout", 10), **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        """PATCH a partner path."""
        return self.http.patch(self.url + path, timeout=kwargs.pop("timeout", 10), **kwargs)

    def create(self, body: dict[str, Any], **kwargs: Any) -> requests.Response:
        """POST /crm/interventions."""
        return self.post("/crm/interventions", json=body, **kwargs)


def assert_error(response: requests.Response, status: int, code: str) -> dict[str, Any]:
    """Assert a response is the documented error format with this status and code; return its ``error``."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert set(error) == {"code", "message", "details", "request_id"}
    assert re.fullmatch(r"req_[0-9a-f]{12}", error["request_id"])
    assert response.headers["X-Request-Id"] == error["request_id"]
    return error
