"""``SymphonicsClient``: the six operations of the partner's API over one careful request pipeline.

Every request goes: circuit breaker -> retry loop (tenacity) -> one attempt -> [token] -> guard -> quota slot
-> HTTP. Each request that leaves the process passed the guard (kill switch, run budget) and took a quota slot
first, is logged once at INFO with its path masked and is written to ``symphonics.api_calls``. Replies are
sorted in one place (:meth:`SymphonicsClient._sort_reply`, after Singer SDK's ``validate_response``): accepted
answers, transient failures (retried) and fatal ones; every error says whether it is ``retryable`` and whether
``nothing_sent`` (see :mod:`include.symphonics.client.errors`).
"""

from __future__ import annotations

import contextlib
import gzip
import ipaddress
import json
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from tenacity import RetryCallState

from include.symphonics.client.auth import (
    AccessToken,
    Cipher,
    OAuth2ClientCredentials,
    PostgresTokenStore,
    TokenStore,
)
from include.symphonics.client.breaker import SymphonicsBreaker
from include.symphonics.client.calllog import (
    ApiCall,
    CallRecorder,
    NullCallRecorder,
    PostgresCallRecorder,
    RunContext,
)
from include.symphonics.client.errors import (
    InsecureURLError,
    SymphonicsAuthError,
    SymphonicsError,
    SymphonicsUnavailable,
    TransientSymphonicsError,
    error_type_for_status,
)
from include.symphonics.client.guard import CallGuard
from include.symphonics.client.models import (
    CreateOutcome,
    CreateResult,
    Intervention,
    InterventionUpdate,
    PdlLookup,
    PdlValidation,
    UserValidation,
)
from include.symphonics.client.ratelimit import PostgresQuotaStore, QuotaLimiter, QuotaStore
from include.symphonics.client.retry import RetryPolicy, parse_retry_after
from include.symphonics.core.limits import REQUESTS_PER_DAY, REQUESTS_PER_MINUTE
from include.symphonics.core.metrics import BREAKER_STATE_VALUES, MetricsSink, NullMetrics
from include.symphonics.core.metrics import name as metric
from include.symphonics.core.quota_policy import (
    CHECK_OPERATION,
    MAX_QUOTA_WAIT,
    OPS,
    PUBLISH,
    RECONCILE,
    ClassQuota,
    QuotaPolicy,
    check_priority,
    default_classes,
)
from include.symphonics.core.redaction import get_logger, mask_path, register_secret

log = get_logger(__name__)

TOKEN_PATH = "/auth/token"  # noqa: S105 - a path, not a secret
#: A Reset below this is a number of seconds, not a Unix timestamp (some gateways send it so).
_RESET_IS_TIMESTAMP = 1_000_000_000
_TRANSPORT_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


@dataclass(frozen=True)
class ClientSettings:
    """Everything that configures a client; the hook fills it from an Airflow connection.

    :param base_url: ``https://api.symphonics.fr``, ``https://sandbox-api.symphonics.fr`` or a local
        sandbox.
    :param client_id: OAuth2 client id (also the key of the shared quota and token).
    :param client_secret: OAuth2 client secret.
    :param requests_per_minute: the partner's per-minute limit for this client id.
    :param requests_per_day: the partner's per-day limit.
    :param priority_classes: share and reserve of each priority class.
    :param day_reset_utc: seconds after midnight UTC at which the partner's day starts again.
    :param connect_timeout: seconds to connect.
    :param read_timeout: seconds to wait for the reply.
    :param max_retries: retries after the first attempt of a call.
    :param backoff_base: first backoff delay (doubles at each retry).
    :param backoff_max: longest backoff delay.
    :param max_quota_wait: the most a call waits for the partner's floor (a ``Retry-After``, with no cap, or
        ``Remaining: 0`` until a ``Reset``); a later floor ends the call at once with :class:`QuotaExhausted`.
    :param breaker_failures: consecutive unavailable calls that open the breaker.
    :param breaker_reset: seconds the breaker stays open.
    :param compress_requests: gzip request bodies above ``compress_threshold`` bytes.
    :param compress_threshold: body size from which bodies are compressed.
    :param allow_insecure_http: accept ``http://`` on a non-loopback host (compose's private network).
    :param token_refresh_margin: seconds before expiry at which the token is renewed.
    :param verify: TLS verification (``requests``' ``verify``: a bool or a CA bundle path).
    :param quota_window_margin: seconds added to the sliding minute, for network delay.
    :param time_scale: partner seconds per real second (a sandbox's ``time_scale``; 1 in production).
    """

    base_url: str
    client_id: str
    client_secret: str = field(repr=False)
    requests_per_minute: int = REQUESTS_PER_MINUTE
    requests_per_day: int = REQUESTS_PER_DAY
    priority_classes: Mapping[str, ClassQuota] = field(default_factory=default_classes)
    day_reset_utc: float = 0.0
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_retries: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    max_quota_wait: float = MAX_QUOTA_WAIT
    breaker_failures: int = 5
    breaker_reset: float = 60.0
    compress_requests: bool = False
    compress_threshold: int = 1024
    allow_insecure_http: bool = False
    token_refresh_margin: float = 60.0
    verify: bool | str = True
    quota_window_margin: float = 0.25
    time_scale: float = 1.0

    @property
    def timeout(self) -> tuple[float, float]:
        """``requests``' (connect, read) timeout."""
        return (self.connect_timeout, self.read_timeout)

    def quota_policy(self) -> QuotaPolicy:
        """The quota limits these settings describe."""
        return QuotaPolicy(
            requests_per_minute=self.requests_per_minute,
            requests_per_day=self.requests_per_day,
            classes=dict(self.priority_classes),
            day_reset_utc=self.day_reset_utc,
            window_margin=self.quota_window_margin,
            max_wait=self.max_quota_wait,
            time_scale=self.time_scale,
        )

    def retry_policy(self) -> RetryPolicy:
        """The retry policy these settings describe."""
        return RetryPolicy(
            max_retries=self.max_retries,
            base_delay=self.backoff_base,
            max_delay=self.backoff_max,
            jitter=min(self.backoff_base, 0.5),
        )


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine (``localhost``, 127.0.0.0/8, ``::1``).

    :param host: a host name or IP literal.
    """
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def require_secure_url(base_url: str, allow_insecure_http: bool = False) -> str:
    """Check the base URL's scheme and return it without a trailing slash.

    :param base_url: the API base URL.
    :param allow_insecure_http: accept ``http://`` on any host.
    :raises InsecureURLError: for ``http://`` on a non-loopback host, unless allowed; or another scheme.
    """
    parts = urlsplit(base_url)
    if parts.scheme == "https" and parts.hostname:
        return base_url.rstrip("/")
    if parts.scheme == "http" and parts.hostname:
        if allow_insecure_http or is_loopback(parts.hostname):
            return base_url.rstrip("/")
        raise InsecureURLError(
            f"refusing plain http:// to {parts.hostname}: the Symphonics client sends credentials and "
            "personal data, so it speaks HTTPS only. Use https://, or set allow_insecure_http=true on the "
            "connection for a sandbox inside a private network."
        )
    raise InsecureURLError(f"the Symphonics base URL must be an https:// URL with a host, got {base_url!r}")


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {"items": body}


def _header_request_id(response: requests.Response) -> str | None:
    return response.headers.get("X-Request-Id") or response.headers.get("X-Request-ID")


def _error_fields(body: dict[str, Any]) -> tuple[str | None, str | None, Any, str | None]:
    """(code, message, details, request_id) from the partner's error format, or the flat validation one."""
    error = body.get("error")
    if isinstance(error, dict):
        return (
            error.get("code"),
            error.get("message"),
            error.get("details"),
            error.get("request_id"),
        )
    return (
        None if error is None else str(error),
        body.get("message"),
        body.get("details"),
        body.get("request_id"),
    )


_ID_KEYS = ("symphonics_id", "existing_id", "intervention_id", "id")


def existing_intervention_id(body: dict[str, Any]) -> str | None:
    """The id of the existing intervention a 409 reply names, if it names one.

    The document's 409 carries no id. A partner may name it as a field problem of the documented error format
    (``{"field": "id", "message": "sym_..."}`` in ``error.details``: the sandbox's ``with_id`` mode), or as a
    key (``id``, ``symphonics_id``, ...) at the top, in ``error`` or in a detail.

    :param body: the 409 reply's JSON.
    """
    raw_error = body.get("error")
    error: dict[str, Any] = raw_error if isinstance(raw_error, dict) else {}
    details = error.get("details")
    candidates: list[Any] = [body, error]
    if isinstance(details, dict):
        candidates.append(details)
    elif isinstance(details, list):
        candidates.extend(d for d in details if isinstance(d, dict))
    for candidate in candidates[2:]:
        if candidate.get("field") in ("id", "symphonics_id") and isinstance(candidate.get("message"), str):
            return str(candidate["message"])
    for candidate in candidates:
        if "field" in candidate:
            continue  # a field problem's other keys describe the field, not the intervention
        for key in _ID_KEYS:
            value = candidate.get(key)
            if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
                return str(value)
    return None


@dataclass(frozen=True)
class _Reply:
    status: int
    body: dict[str, Any]
    request_id: str | None


@dataclass(frozen=True)
class _Trip:
    """One request's way to the partner and back: the reply or the transport failure, and how long it took."""

    called_at: datetime
    latency_ms: float
    response: requests.Response | None
    failure: Exception | None

    @property
    def status(self) -> int | None:
        """The reply's status, ``None`` when there was no reply."""
        return self.response.status_code if self.response is not None else None

    def error_code_and_request_id(self) -> tuple[str | None, str | None]:
        """The error and the request id the log line and the call row name this trip by.

        The error is a refusal's code in the partner's body (else its status) or the transport failure's type;
        the request id is the reply's header, else its error body's.
        """
        response = self.response
        if response is None:
            return (type(self.failure).__name__ if self.failure is not None else None), None
        request_id = _header_request_id(response)
        if response.status_code < 400:
            return None, request_id
        code, _message, _details, body_request_id = _error_fields(_json(response))
        return code or str(response.status_code), request_id or body_request_id


class SymphonicsClient:
    """The Symphonics partner API: OAuth2, one shared quota, retries, a circuit breaker, typed results.

    :param settings: base URL, credentials, limits and timeouts.
    :param token_store: where the token is shared (default: this process only).
    :param quota_store: where the quota counters live (default: this process only).
    :param recorder: where call rows go (default: nowhere).
    :param run_context: returns the pipeline run making the calls, for the call rows.
    :param guard: may refuse each request before it leaves (kill switch, run budget); default: none.
    :param metrics: where requests, retries, 429s, breaker changes and quota left are counted (default: nowhere).
    :param session: a ``requests`` session to use (default: a new one).
    :param sleep: how to wait (tests pass a recorder).
    :param clock: epoch seconds.
    """

    def __init__(
        self,
        settings: ClientSettings,
        *,
        token_store: TokenStore | None = None,
        quota_store: QuotaStore | None = None,
        recorder: CallRecorder | None = None,
        run_context: Callable[[], RunContext] | None = None,
        guard: CallGuard | None = None,
        metrics: MetricsSink | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], Any] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = require_secure_url(settings.base_url, settings.allow_insecure_http)
        self.settings = settings
        register_secret(settings.client_secret)
        self.metrics: MetricsSink = metrics if metrics is not None else NullMetrics()
        self.quota = QuotaLimiter(
            settings.client_id,
            settings.quota_policy(),
            quota_store,
            clock=clock,
            sleep=sleep,
            on_class_left=self._count_class_left,
        )
        self.retry_policy = settings.retry_policy()
        self.guard = guard if guard is not None else CallGuard()
        self.breaker = SymphonicsBreaker(
            settings.breaker_failures, settings.breaker_reset, on_state_change=self._count_breaker_change
        )
        self.auth = OAuth2ClientCredentials(
            settings.client_id,
            settings.client_secret,
            self.base_url,
            self._token_requester(OPS, 1),
            store=token_store,
            refresh_margin=settings.token_refresh_margin,
            clock=clock,
        )
        self.recorder: CallRecorder = recorder if recorder is not None else NullCallRecorder()
        self._run_context = run_context or RunContext
        self.session = session or requests.Session()
        self.session.verify = settings.verify
        self.session.headers.update({"Accept": "application/json", "User-Agent": "symphonics-sync-client/1"})
        self._sleep = sleep
        self._clock = clock

    @classmethod
    def with_shared_state(
        cls,
        settings: ClientSettings,
        dsn: str,
        cipher: Cipher | None,
        *,
        run_context: Callable[[], RunContext] | None = None,
        guard: CallGuard | None = None,
        metrics: MetricsSink | None = None,
    ) -> SymphonicsClient:
        """A client whose quota, token and call log live in the ``sync`` database at ``dsn``.

        :param settings: the client's settings.
        :param dsn: the ``sync`` database.
        :param cipher: encrypts the shared token; ``None`` keeps the token in this process only (never in
            clear text in the database).
        :param run_context: returns the pipeline run making the calls.
        :param guard: may refuse each request before it leaves (kill switch, run budget).
        :param metrics: where the client's counters go.
        """
        return cls(
            settings,
            token_store=PostgresTokenStore(dsn, cipher) if cipher is not None else None,
            quota_store=PostgresQuotaStore(dsn),
            recorder=PostgresCallRecorder(dsn),
            run_context=run_context,
            guard=guard,
            metrics=metrics,
        )

    def _count_class_left(self, priority: str, left: int) -> None:
        self.metrics.gauge(metric("quota", "remaining_today", priority), left)

    def _count_breaker_change(self, old_state: str, new_state: str) -> None:
        log.warning("Symphonics circuit breaker: %s -> %s", old_state, new_state)
        self.metrics.incr(metric("partner", "breaker", "transitions", new_state))
        state_value = BREAKER_STATE_VALUES.get(new_state.replace("-", "_"), -1)
        self.metrics.gauge(metric("partner", "breaker", "state"), state_value)

    def close(self) -> None:
        """Close the HTTP session and the database connections."""
        self.session.close()
        for part in (self.auth.store, self.quota.store, self.recorder):
            closer = getattr(part, "close", None)
            if callable(closer):
                closer()

    # -- the six operations -------------------------------------------------------------------------------

    def validate_pdl(self, pdl: str, *, priority: str = PUBLISH) -> PdlValidation:
        """Validate a PDL. An invalid PDL (the partner's 400 ``{"valid": false}``) is a result, not an error.

        :param pdl: the 14-digit PDL.
        :param priority: the caller's priority class.
        """
        reply = self._call("validate_pdl", "GET", f"/validation/pdl/{quote(pdl, safe='')}", priority, accept={400})
        if reply.status == 400:
            body = dict(reply.body)
            body.setdefault("valid", False)
            return PdlValidation.from_json(pdl, body)
        return PdlValidation.from_json(pdl, reply.body)

    def lookup_pdl(self, address: Mapping[str, Any], customer_name: str, *, priority: str = PUBLISH) -> PdlLookup:
        """Find the PDL of an address. ``found`` is False when the partner knows none (404).

        :param address: ``street``, ``postal_code``, ``city``.
        :param customer_name: the customer's last name.
        :param priority: the caller's priority class.
        """
        payload = {"address": dict(address), "customer_name": customer_name}
        reply = self._call("lookup_pdl", "POST", "/validation/pdl/lookup", priority, body=payload, accept={404})
        if reply.status == 404:
            return PdlLookup(found=False, raw=reply.body)
        return PdlLookup.from_json(reply.body)

    def validate_user(self, email: str, *, priority: str = PUBLISH) -> UserValidation:
        """Tell whether a user exists. An unknown user (404 ``{"exists": false}``) is a result, not an error.

        :param email: the user's e-mail address.
        :param priority: the caller's priority class.
        """
        reply = self._call("validate_user", "GET", f"/validation/user/{quote(email, safe='@')}", priority, accept={404})
        if reply.status == 404:
            body = dict(reply.body)
            body["exists"] = False
            return UserValidation.from_json(body)
        return UserValidation.from_json(reply.body)

    def create_intervention(self, payload: Mapping[str, Any], *, priority: str = PUBLISH) -> CreateResult:
        """Create an intervention; never creates a second one.

        A create whose reply was lost is sent again; the partner's 409 then says it exists. A 409 naming the
        existing id is a success (``ALREADY_EXISTS``); a bare 409 is ``ALREADY_EXISTS_ID_UNKNOWN``, to be
        completed from a webhook or the reconciliation, never by another create.

        :param payload: the intervention, in the partner's format (with our ``external_id``).
        :param priority: the caller's priority class.
        """
        external_id = payload.get("external_id")
        reply = self._call("create_intervention", "POST", "/crm/interventions", priority, body=payload, accept={409})
        if reply.status == 409:
            existing = existing_intervention_id(reply.body)
            outcome = CreateOutcome.ALREADY_EXISTS if existing else CreateOutcome.ALREADY_EXISTS_ID_UNKNOWN
            log.info("Symphonics create of %s: %s (id %s)", external_id, outcome.value, existing or "unknown")
            return CreateResult(
                outcome=outcome,
                symphonics_id=existing,
                external_id=None if external_id is None else str(external_id),
                request_id=reply.request_id,
                raw=reply.body,
            )
        body = reply.body
        return CreateResult(
            outcome=CreateOutcome.CREATED,
            symphonics_id=None if body.get("id") is None else str(body["id"]),
            external_id=str(body.get("external_id") or external_id)
            if (body.get("external_id") or external_id)
            else None,
            status=body.get("status"),
            created_at=body.get("created_at"),
            request_id=reply.request_id,
            raw=body,
        )

    def get_intervention(self, symphonics_id: str, *, priority: str = RECONCILE) -> Intervention:
        """The status of an intervention.

        :param symphonics_id: the partner's id.
        :param priority: the caller's priority class.
        :raises SymphonicsNotFound: when the partner does not know the id.
        """
        reply = self._call("get_intervention", "GET", f"/crm/interventions/{quote(symphonics_id, safe='')}", priority)
        return Intervention.from_json(symphonics_id, reply.body)

    def update_intervention(
        self, symphonics_id: str, changes: Mapping[str, Any], *, priority: str = PUBLISH
    ) -> InterventionUpdate:
        """Change an intervention (for example add documents).

        :param symphonics_id: the partner's id.
        :param changes: the fields to change, in the partner's format.
        :param priority: the caller's priority class.
        """
        reply = self._call(
            "update_intervention",
            "PATCH",
            f"/crm/interventions/{quote(symphonics_id, safe='')}",
            priority,
            body=changes,
        )
        return InterventionUpdate.from_json(symphonics_id, reply.body)

    def check_credentials(self, *, priority: str = OPS) -> None:
        """Ask the partner for a new token now, proving the URL and credentials work: one request, one attempt.

        A check is answered at once: no retry, no wait for the quota (a full minute or a partner's floor is
        :class:`QuotaBusy`, with nothing sent), and it bypasses the circuit breaker (a probe of our settings is
        no evidence of the partner's health either way). Its request is recorded with the operation
        :data:`CHECK_OPERATION`.

        :param priority: the class the token request is counted to.
        :raises SymphonicsError: when the partner refuses or cannot be reached (after one attempt), or a guard
            or the quota refuses the call (:class:`QuotaBusy`).
        """
        check_priority(priority)
        self.auth.renew_now(self._token_requester(priority, 1, operation=CHECK_OPERATION, wait_for_quota=False))

    # -- the pipeline -------------------------------------------------------------------------------------

    def _call(
        self,
        operation: str,
        method: str,
        path: str,
        priority: str,
        *,
        body: Mapping[str, Any] | None = None,
        accept: Collection[int] = (),
    ) -> _Reply:
        check_priority(priority)
        return self.breaker.call(
            lambda: self._retrying(
                operation, lambda attempt: self._attempt(operation, method, path, priority, body, accept, attempt)
            )
        )

    def _retrying(self, operation: str, attempt_once: Callable[[int], Any]) -> Any:
        result: Any = None

        def log_retry(state: RetryCallState) -> None:
            failure = state.outcome.exception() if state.outcome is not None else None
            log.info(
                "Symphonics %s: attempt %d failed (%s), retrying in %.2f s",
                operation,
                state.attempt_number,
                failure,
                state.upcoming_sleep,
            )
            self.metrics.incr(metric("partner", "retries", operation))

        for attempt in self.retry_policy.retrying(sleep=self._sleep, before_sleep=log_retry):
            with attempt:
                result = attempt_once(attempt.retry_state.attempt_number)
        return result

    def _attempt(
        self,
        operation: str,
        method: str,
        path: str,
        priority: str,
        body: Mapping[str, Any] | None,
        accept: Collection[int],
        attempt: int,
    ) -> _Reply:
        request_token = self._token_requester(priority, attempt)
        token = self.auth.access_token(request_token)
        response = self._send(operation, method, path, priority, attempt, token=token, body=body)
        if response.status_code == 401:
            # Revoked or expired early: renew once (another process may have already) and send once more.
            token = self.auth.renew_rejected(token, request_token)
            response = self._send(operation, method, path, priority, attempt, token=token, body=body)
        return self._sort_reply(response, accept)

    def _token_requester(
        self, priority: str, attempt: int, *, operation: str = "obtain_token", wait_for_quota: bool = True
    ) -> Callable[[dict[str, str]], dict[str, Any]]:
        """Sends the token request a call needs, counted to the call's class and attempt."""

        def request_token(form: dict[str, str]) -> dict[str, Any]:
            return self._request_token(form, priority, attempt, operation, wait_for_quota)

        return request_token

    def _request_token(
        self, form: dict[str, str], priority: str, attempt: int, operation: str, wait_for_quota: bool
    ) -> dict[str, Any]:
        response = self._send(
            operation, "POST", TOKEN_PATH, priority, attempt, form=form, wait_for_quota=wait_for_quota
        )
        if response.status_code in (400, 401, 403):
            code, message, details, request_id = _error_fields(_json(response))
            raise SymphonicsAuthError(
                f"Symphonics refused the client credentials: {message or code or response.reason}",
                status=response.status_code,
                code=code,
                details=details,
                request_id=request_id or _header_request_id(response),
            )
        return self._sort_reply(response, ()).body

    def _send(
        self,
        operation: str,
        method: str,
        path: str,
        priority: str,
        attempt: int,
        *,
        token: AccessToken | None = None,
        body: Mapping[str, Any] | None = None,
        form: dict[str, str] | None = None,
        wait_for_quota: bool = True,
    ) -> requests.Response:
        """Pass the guard, take a quota slot, send one request, log it once and record it.

        :param wait_for_quota: ``False``: raise :class:`QuotaBusy` rather than wait for a slot.
        """
        self._take_slot(priority, wait_for_quota)
        headers, data = self._encode(token, body, form)
        masked = mask_path(path)
        trip = self._exchange(method, path, headers, data)
        self._count_trip(operation, trip)
        error_code, request_id = trip.error_code_and_request_id()
        log.info(
            "Symphonics %s %s -> %s in %.0f ms (attempt %d, request_id %s)",
            method,
            masked,
            trip.status if trip.status is not None else error_code,
            trip.latency_ms,
            attempt,
            request_id or "-",
        )
        self.recorder.record(
            ApiCall(
                called_at=trip.called_at,
                client_id=self.settings.client_id,
                priority_class=priority,
                operation=operation,
                method=method,
                path=masked,
                status=trip.status,
                error_code=error_code,
                latency_ms=trip.latency_ms,
                attempt=attempt,
                request_id=request_id,
                token_request=form is not None,
                context=self._run_context(),
            )
        )
        if trip.response is None:
            kind = "timed out" if isinstance(trip.failure, requests.Timeout) else "failed to connect or lost the reply"
            raise SymphonicsUnavailable(f"Symphonics {method} {masked} {kind} ({error_code})")
        self._observe_limits(trip.response)
        return trip.response

    def _take_slot(self, priority: str, wait_for_quota: bool) -> None:
        # The guard is asked before the quota (a refused call takes no slot) and again after every wait for a
        # slot, before the slot is taken (the wait may be long and the switch turned on meanwhile: a request
        # that will not leave must not spend a slot); admitting the request counts it against the budget.
        self.guard.check()
        self.quota.acquire(priority, before_take=self.guard.check, wait=wait_for_quota)
        self.guard.admit()

    def _encode(
        self, token: AccessToken | None, body: Mapping[str, Any] | None, form: dict[str, str] | None
    ) -> tuple[dict[str, str], bytes | dict[str, str] | None]:
        """The request's headers and data: a form, or a JSON body (gzipped when configured and large enough)."""
        headers: dict[str, str] = {}
        data: bytes | dict[str, str] | None = form
        if token is not None:
            headers["Authorization"] = f"{token.token_type} {token.value}"
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
            if self.settings.compress_requests and len(data) > self.settings.compress_threshold:
                data = gzip.compress(data)
                headers["Content-Encoding"] = "gzip"
        return headers, data

    def _exchange(self, method: str, path: str, headers: dict[str, str], data: bytes | dict[str, str] | None) -> _Trip:
        """Send the request once, timed; a transport failure is kept in the trip, not raised."""
        called_at = datetime.now(UTC)
        started = time.perf_counter()
        response: requests.Response | None = None
        failure: Exception | None = None
        try:
            response = self.session.request(
                method, self.base_url + path, headers=headers, data=data, timeout=self.settings.timeout
            )
        except _TRANSPORT_ERRORS as exc:
            failure = exc
        return _Trip(called_at, (time.perf_counter() - started) * 1000, response, failure)

    def _count_trip(self, operation: str, trip: _Trip) -> None:
        status = trip.status
        outcome = (
            status if status is not None else ("timeout" if isinstance(trip.failure, requests.Timeout) else "error")
        )
        self.metrics.incr(metric("partner", "requests", operation, outcome))
        self.metrics.timing(metric("partner", "latency", operation), trip.latency_ms)
        if status == 429:
            self.metrics.incr(metric("partner", "rate_limited", operation))

    def _observe_limits(self, response: requests.Response) -> None:
        """Let the partner's rate-limit headers and ``Retry-After`` tighten the shared quota of every process.

        A ``Retry-After`` (on a 429 or a 5xx) is a floor with no cap: no request of any process leaves before
        it. An ``X-RateLimit-Limit`` lower than configured is adopted, except from a 429, whose headers describe
        the wait it asks for rather than a window.
        """
        now = self._clock()
        offset = 0.0
        date = response.headers.get("Date")
        if date:
            try:
                offset = parsedate_to_datetime(date).timestamp() - now
            except (TypeError, ValueError, IndexError):
                offset = 0.0
        if response.status_code == 429 or response.status_code >= 500:
            retry_after = parse_retry_after(response.headers.get("Retry-After"), now + offset)
            if retry_after is not None and retry_after > 0:
                self.quota.observe(0, now + retry_after)
        remaining, reset, limit = (
            response.headers.get("X-RateLimit-Remaining"),
            response.headers.get("X-RateLimit-Reset"),
            response.headers.get("X-RateLimit-Limit"),
        )
        if reset is None:
            return
        try:
            reset_value = float(reset)
        except ValueError:
            return
        # Reset is on the partner's clock: move it to ours by the offset its Date header shows.
        reset_at = reset_value - offset if reset_value >= _RESET_IS_TIMESTAMP else now + reset_value
        if remaining is not None:
            with contextlib.suppress(ValueError):
                self.quota.observe(int(remaining), reset_at)
        if limit is not None and response.status_code != 429:
            with contextlib.suppress(ValueError):
                self.quota.adopt_partner_limit(int(limit), reset_at)

    def _sort_reply(self, response: requests.Response, accept: Collection[int]) -> _Reply:
        """Sort a reply: accepted, transient (raised for the retry loop) or fatal (a typed error)."""
        status = response.status_code
        body = _json(response)
        if status < 400 or status in accept:
            return _Reply(status, body, _header_request_id(response))
        code, message, details, request_id = _error_fields(body)
        error_type = error_type_for_status(status)
        error: SymphonicsError = error_type(
            f"Symphonics {response.request.method} {mask_path(urlsplit(response.url).path)} failed: "
            f"{message or response.reason or 'no message'}",
            status=status,
            code=code,
            details=details,
            request_id=request_id or _header_request_id(response),
        )
        if isinstance(error, TransientSymphonicsError):
            error.retry_after = parse_retry_after(response.headers.get("Retry-After"))
        raise error
