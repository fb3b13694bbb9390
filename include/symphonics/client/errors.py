"""Typed errors of the Symphonics client, sorted once.

Every error carries what the partner's error format gives (``status``, ``code``, ``message``, ``details``,
``request_id``) so support teams quote the ``request_id``, and the two answers every caller needs:

* ``retryable``: whether the same call may succeed later (429, 5xx, no reply, and every refusal below), as
  opposed to a refusal of the request itself (any other 4xx);
* ``nothing_sent``: whether the client knows that nothing of the call reached the partner (the kill switch,
  the run's budget, the quota or the open breaker refused it before a byte left). A call that got no reply may
  have arrived: it is not ``nothing_sent``.

Refusals before sending also say which guard refused (``refusal``: ``kill_switch``, ``budget``, ``quota``,
``unavailable``). Callers read these attributes; they never re-derive them from statuses or class names.
Messages are redacted when the error is built: an exception message ends up in task logs and alerts.
"""

from __future__ import annotations

from typing import Any

from include.symphonics.core.redaction import redact


class SymphonicsError(Exception):
    """Any failure of a call to Symphonics.

    ``retryable``, ``nothing_sent`` and ``refusal`` are set by each subclass (see the module's docstring).

    :param message: what went wrong (redacted before it is stored).
    :param status: the HTTP status, ``None`` when no response came back.
    :param code: the partner's error code (``VALIDATION_ERROR``, ...), when it sent one.
    :param details: the partner's ``details`` (field errors), when it sent some.
    :param request_id: the partner's request id, to quote to its support.
    """

    #: Whether the same call may succeed later.
    retryable: bool = False
    #: Whether the client knows that nothing of this call reached the partner.
    nothing_sent: bool = False
    #: Which guard refused the call before sending (``kill_switch``, ``budget``, ``quota``, ``unavailable``).
    refusal: str | None = None

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
    """The account is refused: the token endpoint answered 400, 401 or 403, or a call got 401 with a fresh token.

    Nothing a row holds can fix it: callers stop the run, give back what they claimed and raise an alert.
    """


class SymphonicsForbidden(SymphonicsError):
    """The partner refused one resource to the account (403 on a call, not on the token endpoint).

    A refusal of that resource (its PDL, its installer, its create or PATCH), not of the account: callers set
    the row aside and go on. Many in a row on distinct resources are the account's (the caller counts them).
    """


class SymphonicsNotFound(SymphonicsError):
    """The resource does not exist (404)."""


class SymphonicsConflict(SymphonicsError):
    """The request conflicts with the partner's state (409), outside of a create."""


class TransientSymphonicsError(SymphonicsError):
    """A failure that may pass: the retry policy retries exactly these (429, 5xx, connection, timeout)."""

    retryable = True


class SymphonicsRateLimited(TransientSymphonicsError):
    """The partner still answered 429 after every retry."""


class SymphonicsUnavailable(TransientSymphonicsError):
    """The partner is unreachable: 5xx, connection errors or timeouts after every retry, or breaker open."""


class BreakerOpen(SymphonicsUnavailable):
    """The circuit breaker is open after repeated unavailability: the call was refused before sending."""

    nothing_sent = True
    refusal = "unavailable"


class CallRefused(SymphonicsError):
    """A guard of the client refused the call before anything was sent; later (or tomorrow) it may pass."""

    retryable = True
    nothing_sent = True


class KillSwitchOn(CallRefused):
    """Ops turned the kill switch on: no call leaves, token requests included."""

    refusal = "kill_switch"

    def __init__(self, message: str = "the Symphonics kill switch is on: no partner call is made") -> None:
        super().__init__(message, code="KILL_SWITCH_ON")


class CallBudgetSpent(CallRefused):
    """The run has spent its call budget.

    :param budget: the run's budget, in requests.
    """

    refusal = "budget"

    def __init__(self, budget: int) -> None:
        super().__init__(f"the run's call budget ({budget} requests) is spent", code="CALL_BUDGET_SPENT")
        self.budget = budget


class QuotaExhausted(CallRefused):
    """The caller's priority class (or the whole client) has spent its share of the day.

    Raised at once, before anything is sent, so a task stops at once instead of sleeping until the next day.

    :param priority: the priority class that is out of quota.
    :param resets_at: epoch seconds at which the day window starts again, when known.
    :param daily_cap: requests the class may send per day, when known (for a backlog's ETA).
    """

    refusal = "quota"

    def __init__(
        self, message: str, *, priority: str, resets_at: float | None = None, daily_cap: int | None = None
    ) -> None:
        super().__init__(message, code="QUOTA_EXHAUSTED")
        self.priority = priority
        self.resets_at = resets_at
        self.daily_cap = daily_cap


class QuotaBusy(CallRefused):
    """A call that may not wait (a connection test) found no slot free now: nothing was sent.

    :param wait: seconds until a slot frees (the minute window, or the partner's ``Retry-After`` floor).
    :param priority: the caller's priority class.
    """

    refusal = "quota"

    def __init__(self, wait: float, *, priority: str) -> None:
        super().__init__(f"Symphonics quota busy for {max(1, round(wait))} s", code="QUOTA_BUSY")
        self.wait = wait
        self.priority = priority


class InsecureURLError(ValueError):
    """The base URL is plain ``http://`` on a non-loopback host and insecure HTTP was not allowed."""


#: Exception type per HTTP status for replies that are errors (every status not listed maps by class).
STATUS_ERRORS: dict[int, type[SymphonicsError]] = {
    400: SymphonicsValidationError,
    422: SymphonicsValidationError,
    401: SymphonicsAuthError,
    403: SymphonicsForbidden,
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
