"""The partner's error format, request ids, and the exception that carries an error to the response.

Every error the sandbox answers, from any layer, has the documented shape::

    {"error": {"code": ..., "message": ..., "details": [{"field": ..., "message": ...}], "request_id": ...}}
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

#: The documented error code for each status; statuses the document does not list borrow the nearest code.
CODE_FOR_STATUS: dict[int, str] = {
    400: "INVALID_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "INVALID_REQUEST",
    409: "CONFLICT",
    413: "INVALID_REQUEST",
    415: "INVALID_REQUEST",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMITED",
}


def code_for_status(status: int) -> str:
    """The documented error code for an HTTP status (``SERVER_ERROR`` for any 5xx).

    :param status: the HTTP status.
    """
    return CODE_FOR_STATUS.get(status, "SERVER_ERROR" if status >= 500 else "INVALID_REQUEST")


def new_request_id() -> str:
    """A request id as the document shows them: ``req_`` and 12 lowercase hex digits."""
    return "req_" + secrets.token_hex(6)


@dataclass(frozen=True)
class FieldProblem:
    """One entry of an error's ``details``: which field, and what is wrong with it.

    :param field: the field as a dotted path, e.g. ``installation.pdl`` or ``photos[1].coordinates.latitude``.
    :param message: what is wrong, for a human.
    """

    field: str
    message: str

    def to_dict(self) -> dict[str, str]:
        """Render as the documented ``{"field", "message"}`` object."""
        return {"field": self.field, "message": self.message}


@dataclass
class SandboxError(Exception):
    """An error answered in the documented format.

    :param status: the HTTP status.
    :param message: the top-level message.
    :param details: one entry per offending field.
    :param code: the error code (default: the documented one for the status).
    :param headers: extra response headers (e.g. ``Retry-After``).
    """

    status: int
    message: str
    details: list[FieldProblem] = field(default_factory=list)
    code: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    @property
    def error_code(self) -> str:
        """The code the body carries."""
        return self.code or code_for_status(self.status)


def error_body(code: str, message: str, details: list[FieldProblem], request_id: str) -> dict[str, Any]:
    """Build the documented error body.

    :param code: the error code, e.g. ``VALIDATION_ERROR``.
    :param message: the top-level message.
    :param details: the per-field problems.
    :param request_id: the id of the request being answered.
    """
    return {
        "error": {
            "code": code,
            "message": message,
            "details": [problem.to_dict() for problem in details],
            "request_id": request_id,
        }
    }


def encode_json(payload: Any) -> bytes:
    """Serialise a response body the way every sandbox response is serialised (compact UTF-8 JSON).

    :param payload: the JSON-compatible value.
    """
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
