"""Typed errors of the Symphonics client.

Every error carries what the partner's error format gives (``status``, ``code``, ``message``, ``details``,
``request_id``) so callers branch on the type and support teams quote the ``request_id``. Messages are
redacted when the error is built: an exception message ends up in task logs and alerts.
"""

from __future__ import annotations

from typing import Any

from include.symphonics.client.redaction import redact


class SymphonicsError(Exception):
    """Any failure of a call to Symphonics.

    :param message: what went wrong (redacted before it is stored).
    :param status: the HTTP status, ``None`` when no response came back.
    :param code: the partner's error code (``VALIDATION_ERROR``, ...), when it sent one.
    :param details: the partner's ``details`` (field errors), when it sent some.
    :param request_id: the partner's request id, to quote to its support.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        details: Any = None,
        request_id: str | None = None,
    ) -> None:
        self.message = redact(message)
        self.status = status
        self.code = code
        self.details = details
        self.request_id = request_id
        #: Seconds the partner asked us to wait (``Retry-After``), for the retry policy.
        self.retry_after: float | None = None
        super().__init__(self.message)

    def __str__(self) -> str:
        parts = [self.message]
        if self.status is not None:
            parts.append(f"status={self.status}")
        if self.code:
            parts.append(f"code={self.code}")
        if self.request_id:
            parts.append(f"request_id={self.request_id}")
        return " ".join(parts) if len(parts) == 1 else f"{parts[0]} ({', '.join(parts[1:])})"


class SymphonicsValidationError(SymphonicsError):
    """The partner refused the request's content (400 or 422); retrying the same request cannot help."""


class SymphonicsAuthError(SymphonicsError):
    """Authentication failed (401 after one token refresh) or permission is lacking (403)."""


class SymphonicsNotFound(SymphonicsError):
    """The resource does not exist (404)."""


class SymphonicsConflict(SymphonicsError):
    """The request conflicts with the partner's state (409), outside of a create."""


class TransientSymphonicsError(SymphonicsError):
    """A failure that may pass: the retry policy retries exactly these (429, 5xx, connection, timeout)."""


class SymphonicsRateLimited(TransientSymphonicsError):
    """The partner still answered 429 after every retry."""


class SymphonicsUnavailable(TransientSymphonicsError):
    """The partner is unreachable: 5xx, connection errors or timeouts after every retry, or breaker open."""


class QuotaExhausted(SymphonicsError):
    """The caller's priority class (or the whole client) has spent its share of the day.

    Raised at once, before anything is sent, so a task fails fast instead of sleeping until the next day.

    :param priority: the priority class that is out of quota.
    :param resets_at: epoch seconds at which the day window starts again, when known.
    """

    def __init__(self, message: str, *, priority: str, resets_at: float | None = None) -> None:
        super().__init__(message, code="QUOTA_EXHAUSTED")
        self.priority = priority
        self.resets_at = resets_at


class InsecureURLError(ValueError):
    """The base URL is plain ``http://`` on a non-loopback host and insecure HTTP was not allowed."""


#: Exception type per HTTP status for replies that are errors (every status not listed maps by class).
STATUS_ERRORS: dict[int, type[SymphonicsError]] = {
    400: SymphonicsValidationError,
    422: SymphonicsValidationError,
    401: SymphonicsAuthError,
    403: SymphonicsAuthError,
    404: SymphonicsNotFound,
    409: SymphonicsConflict,
    429: SymphonicsRateLimited,
}


def error_type_for_status(status: int) -> type[SymphonicsError]:
    """The exception type that stands for an error reply with ``status``.

    :param status: an HTTP status of 400 or more.
    """
    if status in STATUS_ERRORS:
        return STATUS_ERRORS[status]
    if status >= 500:
        return SymphonicsUnavailable
    return SymphonicsError
