"""The webhook receiver as an ASGI app: served stand-alone (``python -m include.symphonics.webhooks``) or mounted
by the api-server plugin at ``/symphonics/webhooks``.

Order of the checks, cheapest and safest first: the declared size (413, nothing read), the content type (415,
nothing read), the presence of a signature (401, nothing read), the body read up to the limit (413) within a
deadline (408), the signature (401). Up to here the sender is anyone: a refusal touches no database connection,
it is counted in memory (``refusals.py``), and a source past its refusal limit is answered 429 with
``Retry-After`` instead. A validly signed request is never limited. Then the JSON and its fields (400) and the
event time (422, but a validly signed late event is stored, flagged and its intervention queued for a status
poll). Only then is the event stored, once (200). An unsigned caller learns nothing but the first check it
failed. No client input leads to a 5xx; a 503 means the database did not take the write and the partner should
retry.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from include.symphonics.core.metrics import MetricsSink, NullMetrics
from include.symphonics.core.metrics import name as metric
from include.symphonics.webhooks import signature, store
from include.symphonics.webhooks.events import MalformedEvent, WebhookEvent, parse_event
from include.symphonics.webhooks.refusals import RefusalFlusher, RefusalLedger, SourceLimiter
from include.symphonics.webhooks.settings import WebhookConfigurationError, WebhookSettings

log = logging.getLogger(__name__)

SettingsSource = WebhookSettings | Callable[[], WebhookSettings]

#: Headers copied into a rejection row are cut to this length: they are the sender's to choose.
_MAX_HEADER_CHARS = 200
_RETRY_AFTER_SECONDS = "30"


@dataclass(frozen=True)
class _Runtime:
    settings: WebhookSettings
    secrets: list[tuple[str, bytes]]
    pool: store.ConnectionPool
    refusals: RefusalLedger
    limiter: SourceLimiter
    flusher: RefusalFlusher


@dataclass(frozen=True)
class _Incoming:
    """One request being received: what each check needs to answer it and describe a refusal."""

    request: Request
    runtime: _Runtime
    received_at: datetime
    request_id: str
    declared_size: int | None

    def rejection(self, reason: str, status_code: int, **fields: Any) -> store.Rejection:
        """The row describing this request's refusal.

        :param reason: why it is refused.
        :param status_code: the answer's status.
        :param fields: the row's other fields (``body_size`` defaults to the declared size).
        """
        headers = self.request.headers
        return store.Rejection(
            received_at=self.received_at,
            request_id=self.request_id,
            reason=reason,
            status_code=status_code,
            remote_addr=_clip(self.request.client.host) if self.request.client else None,
            body_size=fields.pop("body_size", self.declared_size),
            content_type=_clip(headers.get("content-type")),
            user_agent=_clip(headers.get("user-agent")),
            **fields,
        )


class _SlowBody(Exception):
    """The body did not arrive in full before the deadline."""


def _clip(value: str | None) -> str | None:
    # Header values arrive latin-1 decoded: always valid text, but NUL is not storable.
    return None if value is None else value[:_MAX_HEADER_CHARS].replace("\x00", "\ufffd")


def _error(
    status_code: int, code: str, message: str, request_id: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    # The partner's own error format (see the document's "Error Response Format").
    body: dict[str, Any] = {"error": {"code": code, "message": message, "request_id": request_id, **extra}}
    if status_code == 503:
        headers = {"Retry-After": _RETRY_AFTER_SECONDS, **(headers or {})}
    return JSONResponse(body, status_code=status_code, headers=headers)


def _declared_size(request: Request) -> int | None:
    declared = request.headers.get("content-length")
    return int(declared) if declared is not None and declared.isdigit() else None


def _is_json(content_type: str | None) -> bool:
    if content_type is None:
        return False
    media_type, _, params = content_type.partition(";")
    if media_type.strip().lower() != "application/json":
        return False
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            return False  # JSON is UTF-8 (RFC 8259); another charset is another format
    return True


class WebhookReceiver:
    """The request handler and its lazily built runtime (settings, secrets, connection pool).

    :param settings: the settings, or a callable returning them on first use (so importing the plugin or
        building the app reads no secret and opens no connection).
    :param close_at_exit: write the last counted refusals when the process exits (for a host that never
        closes the app, such as the api-server).
    :param metrics: where events accepted and refused (by reason) are counted (default: nowhere).
    """

    def __init__(
        self, settings: SettingsSource, *, close_at_exit: bool = False, metrics: MetricsSink | None = None
    ) -> None:
        self.metrics: MetricsSink = metrics if metrics is not None else NullMetrics()
        self._source = settings
        self._close_at_exit = close_at_exit
        self._runtime: _Runtime | None = None
        self._lock = threading.Lock()

    def _build_runtime(self) -> _Runtime:
        with self._lock:
            if self._runtime is None:
                settings = self._source() if callable(self._source) else self._source
                pool = store.ConnectionPool(settings.dsn, settings.pool_size)
                dsn = settings.dsn

                def connect() -> psycopg.Connection[Any]:
                    return psycopg.connect(dsn, autocommit=True, connect_timeout=store.CONNECT_TIMEOUT_SECONDS)

                refusals = RefusalLedger(
                    connect,
                    samples_per_source=settings.samples_per_source,
                    samples_per_minute=settings.samples_per_minute,
                )
                self._runtime = _Runtime(
                    settings=settings,
                    secrets=settings.secrets(),
                    pool=pool,
                    refusals=refusals,
                    limiter=SourceLimiter(settings.refusal_limit, settings.refusal_window_seconds),
                    flusher=RefusalFlusher(refusals, settings.refusal_flush_seconds),
                )
                if self._close_at_exit:
                    atexit.register(self.close)
            return self._runtime

    async def runtime(self) -> _Runtime:
        """The runtime, built on first use (in a worker thread: it may ask Airflow for connections)."""
        if self._runtime is not None:
            return self._runtime
        return await run_in_threadpool(self._build_runtime)

    def close(self) -> None:
        """Write the refusals counted so far and close the connections (idempotent)."""
        runtime = self._runtime
        if runtime is not None:
            runtime.flusher.stop()
            runtime.pool.close()

    def flush_refusals(self) -> int:
        """Write the refusals counted so far now, rather than at the next periodic flush.

        :return: the refused requests written.
        """
        return self._runtime.refusals.flush() if self._runtime is not None else 0

    async def _read_limited(self, request: Request, limit: int, deadline: float) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(deadline):
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > limit:
                        return None  # stop reading: the rest of an oversized body is never buffered
                    chunks.append(chunk)
        except TimeoutError:
            raise _SlowBody from None
        return b"".join(chunks)

    def _refuse_unsigned(self, runtime: _Runtime, rejection: store.Rejection, message: str, code: str) -> JSONResponse:
        # Anyone may send this: counted in memory (no database connection), 429 once the source is past its limit.
        source = rejection.remote_addr or ""
        retry_after = runtime.limiter.retry_after(source)
        headers: dict[str, str] = {}
        if retry_after is not None:
            rejection = replace(rejection, reason="rate_limited", status_code=429, detail="")
            message, code = "Too many refused requests, retry later", "TOO_MANY_REQUESTS"
            headers["Retry-After"] = str(retry_after)
        else:
            runtime.limiter.count(source)
        if rejection.status_code == 408:
            headers["Connection"] = "close"  # the rest of the body is not read: the connection cannot be reused
        runtime.refusals.add(rejection)
        self.metrics.incr(metric("webhooks", "refused", rejection.reason))
        return _error(rejection.status_code, code, message, rejection.request_id, headers=headers or None)

    async def _refuse_signed(
        self,
        runtime: _Runtime,
        rejection: store.Rejection,
        message: str,
        code: str,
        *,
        late_event: tuple[WebhookEvent, str] | None = None,
        **extra: Any,
    ) -> JSONResponse:
        # The partner's own request: kept whole (body included) as a sample, counted, never limited.
        if late_event is None:
            await run_in_threadpool(store.record_rejection, runtime.pool, rejection)
        else:
            event, secret_used = late_event
            try:
                await run_in_threadpool(store.record_late_event, runtime.pool, event, secret_used, rejection)
            except store.StoreUnavailable as exc:
                log.error("late webhook %s not recorded: %s", rejection.request_id, exc)
                self.metrics.incr(metric("webhooks", "unavailable"))
                return _error(503, "SERVICE_UNAVAILABLE", "Not recorded, retry later", rejection.request_id)
        runtime.refusals.add(rejection, sample=False)
        self.metrics.incr(metric("webhooks", "refused", rejection.reason))
        return _error(rejection.status_code, code, message, rejection.request_id, **extra)

    async def receive(self, request: Request) -> JSONResponse:
        """``POST``: verify, validate and store one webhook event, in the order of the module's docstring.

        :param request: the incoming request.
        """
        received_at = datetime.now(UTC)
        request_id = f"whk_{uuid.uuid4().hex[:16]}"
        try:
            runtime = await self.runtime()
        except WebhookConfigurationError as exc:
            log.error("webhook receiver not configured: %s", exc)
            return _error(503, "SERVICE_UNAVAILABLE", "The receiver is not configured", request_id)
        incoming = _Incoming(request, runtime, received_at, request_id, _declared_size(request))
        header = self._check_headers(incoming)
        if isinstance(header, JSONResponse):
            return header
        body = await self._read_body(incoming)
        if isinstance(body, JSONResponse):
            return body
        secret_used = self._verify_signature(incoming, body, header)
        if isinstance(secret_used, JSONResponse):
            return secret_used
        # From here on the sender is the partner: its body is kept with a rejection, to explain it.
        event = await self._parse(incoming, body)
        if isinstance(event, JSONResponse):
            return event
        late = await self._refuse_late(incoming, event, secret_used, len(body))
        if late is not None:
            return late
        return await self._store_event(incoming, event, secret_used)

    def _check_headers(self, incoming: _Incoming) -> JSONResponse | str:
        """The checks that read nothing: the declared size (413), the content type (415), a signature (401).

        :param incoming: the request being received.
        :return: the refusal, or the signature header (well formed, to verify once the body is read).
        """
        runtime, headers = incoming.runtime, incoming.request.headers
        if incoming.declared_size is not None and incoming.declared_size > runtime.settings.max_body_bytes:
            return self._refuse_too_large(incoming)
        if not _is_json(headers.get("content-type")):
            return self._refuse_unsigned(
                runtime,
                incoming.rejection("wrong_content_type", 415),
                "Content-Type must be application/json",
                "UNSUPPORTED_MEDIA_TYPE",
            )
        header = headers.get(signature.SIGNATURE_HEADER)
        if not signature.well_formed(header):
            reason = "missing_signature" if header is None else "bad_signature"
            return self._refuse_unsigned(runtime, incoming.rejection(reason, 401), "Invalid signature", "UNAUTHORIZED")
        assert header is not None  # well_formed() said so
        return header

    def _refuse_too_large(self, incoming: _Incoming) -> JSONResponse:
        limit = incoming.runtime.settings.max_body_bytes
        return self._refuse_unsigned(
            incoming.runtime,
            incoming.rejection("too_large", 413),
            f"The body exceeds {limit} bytes",
            "PAYLOAD_TOO_LARGE",
        )

    async def _read_body(self, incoming: _Incoming) -> JSONResponse | bytes:
        """Read the body up to the limit (413) within the deadline (408).

        :param incoming: the request being received.
        :return: the refusal (or a 400 when the sender left), or the whole body.
        """
        runtime, request_id = incoming.runtime, incoming.request_id
        deadline = runtime.settings.body_deadline_seconds
        try:
            body = await self._read_limited(incoming.request, runtime.settings.max_body_bytes, deadline)
        except ClientDisconnect:
            log.info("webhook %s: the sender disconnected before the end of the body", request_id)
            return _error(400, "INVALID_REQUEST", "Incomplete body", request_id)
        except _SlowBody:
            return self._refuse_unsigned(
                runtime,
                incoming.rejection("slow_body", 408, detail=f"body not received within {deadline:g} s"),
                f"The body did not arrive within {deadline:g} s",
                "REQUEST_TIMEOUT",
            )
        if body is None:
            return self._refuse_too_large(incoming)
        return body

    def _verify_signature(self, incoming: _Incoming, body: bytes, header: str) -> JSONResponse | str:
        """Verify the signature over the body (401).

        :param incoming: the request being received.
        :param body: the whole body.
        :param header: the signature header.
        :return: the refusal, or the secret the body is signed with.
        """
        secret_used = signature.matching_secret(body, header, incoming.runtime.secrets)
        if secret_used is None:
            return self._refuse_unsigned(
                incoming.runtime,
                incoming.rejection("bad_signature", 401, body_size=len(body)),
                "Invalid signature",
                "UNAUTHORIZED",
            )
        return secret_used

    async def _parse(self, incoming: _Incoming, body: bytes) -> JSONResponse | WebhookEvent:
        """Parse the JSON and its fields (400).

        :param incoming: the request being received.
        :param body: the whole body, validly signed.
        :return: the refusal (kept with the body), or the event.
        """
        try:
            return parse_event(body)
        except MalformedEvent as exc:
            signed_body = body.decode("utf-8", "replace").replace("\x00", "\ufffd")
            return await self._refuse_signed(
                incoming.runtime,
                incoming.rejection(
                    "malformed",
                    400,
                    body_size=len(body),
                    signature_valid=True,
                    signed_body=signed_body,
                    detail=str(exc),
                ),
                str(exc),
                "INVALID_REQUEST",
            )

    async def _refuse_late(
        self, incoming: _Incoming, event: WebhookEvent, secret_used: str, size: int
    ) -> JSONResponse | None:
        """Check the event time (422): a late event is stored, flagged and its intervention queued for a poll.

        :param incoming: the request being received.
        :param event: the parsed event.
        :param secret_used: the secret the body is signed with.
        :param size: the body's size.
        :return: the refusal, or ``None`` when the event is on time.
        """
        skew = (incoming.received_at - event.event_at).total_seconds()
        tolerance = incoming.runtime.settings.tolerance_seconds
        if abs(skew) <= tolerance:
            return None
        reason, when = ("stale", "older") if skew > 0 else ("future", "further ahead")
        detail = f"timestamp {when} than {tolerance:g} s"
        return await self._refuse_signed(
            incoming.runtime,
            incoming.rejection(reason, 422, body_size=size, signature_valid=True, detail=detail),
            "The event's timestamp is outside the accepted window",
            "VALIDATION_ERROR",
            late_event=(event, secret_used),
            details=[{"field": "timestamp", "message": f"{detail}: recorded as late, status will be polled"}],
        )

    async def _store_event(self, incoming: _Incoming, event: WebhookEvent, secret_used: str) -> JSONResponse:
        """Store the event, once (200), or answer 503 when the database does not take the write.

        :param incoming: the request being received.
        :param event: the event, valid and on time.
        :param secret_used: the secret the body is signed with.
        """
        request_id = incoming.request_id
        try:
            stored = await run_in_threadpool(
                store.record_event, incoming.runtime.pool, event, incoming.received_at, secret_used
            )
        except store.StoreUnavailable as exc:
            log.error("webhook %s not stored: %s", request_id, exc)
            self.metrics.incr(metric("webhooks", "unavailable"))
            return _error(503, "SERVICE_UNAVAILABLE", "Not stored, retry later", request_id)
        self.metrics.incr(metric("webhooks", "accepted", "stored" if stored else "duplicate"))
        if event.unknown_event:
            log.warning("webhook %s: unknown event type %r stored and flagged", request_id, event.event_type)
        return JSONResponse(
            {
                "status": "stored" if stored else "duplicate",
                "unknown_event": event.unknown_event,
                "request_id": request_id,
            }
        )

    async def health(self) -> JSONResponse:
        """``GET /health``: 200 when configured and the database answers, else 503."""
        try:
            runtime = await self.runtime()
            await run_in_threadpool(store.ping, runtime.pool)
        except (WebhookConfigurationError, store.StoreUnavailable) as exc:
            return JSONResponse({"status": "unavailable", "reason": type(exc).__name__}, status_code=503)
        return JSONResponse({"status": "ok"})


def create_webhook_app(
    settings: SettingsSource | None = None,
    *,
    paths: tuple[str, ...] = ("/",),
    close_at_exit: bool = False,
    metrics: MetricsSink | None = None,
) -> FastAPI:
    """Build the receiver's app. Nothing is read or opened until the first request.

    :param settings: the settings, or a callable returning them (default: read from the environment and the
        Airflow connections on first use).
    :param paths: where ``POST`` is accepted; ``/`` is the mount point's root when mounted by the plugin.
    :param close_at_exit: write the refusals counted last when the process exits (the api-server never closes
        a mounted app; the stand-alone receiver closes it itself).
    :param metrics: where events accepted and refused are counted (default: Airflow's stats, which the
        api-server initialises and the stand-alone receiver initialises at start).
    """
    if metrics is None:
        from include.symphonics.core.stats import AirflowStats

        metrics = AirflowStats()
    receiver = WebhookReceiver(
        settings if settings is not None else WebhookSettings.from_environment,
        close_at_exit=close_at_exit,
        metrics=metrics,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        # Served on its own (uvicorn re-raises SIGTERM once the app is shut down: no code runs after this).
        await run_in_threadpool(receiver.close)

    # No generated docs: the app faces the internet and its only caller is the partner.
    app = FastAPI(title="Symphonics webhooks", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    for path in paths:
        app.add_api_route(path, receiver.receive, methods=["POST"], include_in_schema=False)
    app.add_api_route("/health", receiver.health, methods=["GET"], include_in_schema=False)
    app.state.receiver = receiver
    return app


class MountRootMiddleware:
    """Serve ``POST <prefix>`` (no trailing slash) from the app mounted at ``<prefix>``, without a redirect.

    Starlette matches a mount only at ``<prefix>/...`` and would answer ``<prefix>`` with a 307 to the slashed
    path, which a webhook sender need not follow. Installed on the api-server as a root middleware by the
    plugin; it only compares one string per request.

    :param app: the wrapped ASGI app.
    :param prefix: the mount point, e.g. ``/symphonics/webhooks``.
    """

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix.rstrip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == scope.get("root_path", "") + self.prefix:
            scope = dict(scope)
            scope["path"] += "/"
            if "raw_path" in scope and scope["raw_path"] is not None:
                scope["raw_path"] += b"/"
        await self.app(scope, receive, send)
