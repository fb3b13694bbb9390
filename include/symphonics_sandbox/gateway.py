"""The front door of every request: request ids, auth, rate limits, faults, the call log and common headers.

It is plain ASGI (no per-request Starlette objects) because it sits on the hot path of every benchmark. For a
partner route it runs, in order: body size (413), bearer token (401), rate limit (429, counted), route
permission (403), then the armed faults, then the route's handler. The token route has no bearer token: its
handler authenticates the client and counts the request itself (``count_token_requests``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from include.symphonics_sandbox.auth import check_route_allowed, client_for_bearer
from include.symphonics_sandbox.calllog import CallRecord
from include.symphonics_sandbox.errors import SandboxError, encode_json, error_body, new_request_id
from include.symphonics_sandbox.faults import FaultPlan
from include.symphonics_sandbox.ratelimit import RateDecision
from include.symphonics_sandbox.routes import (
    ADMIN_PREFIX,
    CREATE_INTERVENTION_ROUTE,
    TOKEN_ROUTE,
    match_partner_route,
)
from include.symphonics_sandbox.runtime import SandboxRuntime

log = logging.getLogger(__name__)

#: ASGI scope extension our uvicorn protocol provides: a callable that closes the connection at once.
ABORT_EXTENSION = "sandbox.abort_connection"
_CONTEXT_KEY = "sandbox_request"
#: A body announced larger than the limit is still read (and dropped) up to this size, so the client
#: receives the 413 instead of a broken pipe.
_DRAIN_LIMIT = 16 * 1_048_576
_SERVER_ERROR_MESSAGES = {
    502: "Bad gateway",
    503: "Service temporarily unavailable",
    504: "Gateway timeout",
}


class DroppedConnection(ConnectionAbortedError):
    """Raised in-process (no uvicorn connection to close) where the server would drop the connection."""


@dataclass
class RequestContext:
    """What the gateway and the handlers share about one request.

    :param request_id: the ``req_`` id of the request.
    :param route: the partner route name, or None.
    :param client_id: the authenticated client, once known.
    :param rate: the rate-limit window to describe in the headers, once counted.
    :param faults: the injected fault kinds that shaped the answer.
    :param drop_after_commit: close the connection instead of sending a successful response.
    :param dropped: the connection was closed with no response.
    :param status: the status sent.
    """

    request_id: str
    route: str | None
    client_id: str | None = None
    rate: RateDecision | None = None
    faults: list[str] = field(default_factory=list)
    drop_after_commit: bool = False
    dropped: bool = False
    status: int | None = None


def request_context(request: Request) -> RequestContext:
    """The gateway's context of a request, for handlers.

    :param request: the Starlette request.
    """
    context: RequestContext = request.scope["state"][_CONTEXT_KEY]
    return context


class _HttpDate:
    """The ``Date`` header value, formatted once per second rather than per response."""

    def __init__(self) -> None:
        self._second = -1
        self._value = b""

    def now(self) -> bytes:
        second = int(time.time())
        if second != self._second:
            self._value = formatdate(second, usegmt=True).encode("ascii")
            self._second = second
        return self._value


async def send_error(send: Send, error: SandboxError, request_id: str) -> None:
    """Answer an error in the documented format, straight over ASGI.

    :param send: the ASGI send callable (the gateway's, which adds the common headers).
    :param error: the error.
    :param request_id: the request's id.
    """
    body = encode_json(error_body(error.error_code, error.message, error.details, request_id))
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers.extend((name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in error.headers.items())
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _wait_for_disconnect(receive: Receive, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            message = await asyncio.wait_for(receive(), remaining)
        except TimeoutError:
            return
        if message["type"] == "http.disconnect":
            return


async def _hang(receive: Receive, seconds: float) -> tuple[bool, list[Message]]:
    """Wait, listening for the client hanging up; keep any body received meanwhile for the handler."""
    buffered: list[Message] = []
    deadline = time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            message = await asyncio.wait_for(receive(), remaining)
        except TimeoutError:
            break
        if message["type"] == "http.disconnect":
            return True, buffered
        buffered.append(message)
    return False, buffered


def _replaying(buffered: list[Message], receive: Receive) -> Receive:
    async def replay() -> Message:
        if buffered:
            return buffered.pop(0)
        return await receive()

    return replay


class SandboxGateway:
    """ASGI middleware in front of the FastAPI app.

    :param app: the wrapped app.
    :param runtime: the running sandbox.
    """

    def __init__(self, app: ASGIApp, runtime: SandboxRuntime) -> None:
        self.app = app
        self.runtime = runtime
        self._date = _HttpDate()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        runtime = self.runtime
        runtime.ensure_background()
        started = time.time()
        path: str = scope["path"]
        method: str = scope["method"]
        is_admin = path.startswith(ADMIN_PREFIX)
        route = None if is_admin else match_partner_route(method, path)
        context = RequestContext(request_id=new_request_id(), route=route)
        scope.setdefault("state", {})[_CONTEXT_KEY] = context
        abort: Callable[[], None] | None = scope.get("extensions", {}).get(ABORT_EXTENSION)
        request_id_header = context.request_id.encode("ascii")
        hung_up = False

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                if context.drop_after_commit:
                    if message["status"] < 400:
                        context.dropped = True
                        if abort is not None:
                            abort()
                        return
                    # Nothing was committed: the armed drop waits for the next create that commits.
                    runtime.faults.arm("drop_after_commit", CREATE_INTERVENTION_ROUTE, {"count": 1})
                    context.faults.remove("drop_after_commit")
                    context.drop_after_commit = False
                context.status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id_header))
                headers.append((b"date", self._date.now()))
                if context.rate is not None:
                    headers.extend(context.rate.headers())
                message = {**message, "headers": headers}
            elif context.dropped:
                return
            await send(message)

        try:
            if route is None:
                await self.app(scope, receive, send_with_headers)
            else:
                hung_up = await self._partner_call(scope, receive, send_with_headers, context, route)
        except Exception:
            log.exception("unhandled error answering %s %s (%s)", method, route or "?", context.request_id)
            if context.status is None and not context.dropped:
                await send_error(
                    send_with_headers, SandboxError(500, "An unexpected error occurred"), context.request_id
                )
        if not is_admin:
            runtime.calls.record(
                CallRecord(
                    method=method,
                    path=path,
                    status=None if context.dropped or hung_up else context.status,
                    time=started,
                    duration_ms=round((time.time() - started) * 1000, 3),
                    client_id=context.client_id,
                    request_id=context.request_id,
                    route=route,
                    fault=",".join(context.faults) or None,
                )
            )
        if context.dropped:
            if abort is None:
                raise DroppedConnection("the sandbox dropped the connection after committing the create")
            await _wait_for_disconnect(receive, timeout=5)

    async def _partner_call(
        self, scope: Scope, receive: Receive, send: Send, context: RequestContext, route: str
    ) -> bool:
        """Run the gateway's checks and faults, then the handler; return whether the client hung up."""
        runtime = self.runtime
        config = runtime.config
        authorization: str | None = None
        content_length: int | None = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"content-length":
                try:
                    content_length = int(value)
                except ValueError:
                    content_length = None
        try:
            if content_length is not None and content_length > config.max_body_bytes:
                if content_length <= _DRAIN_LIMIT:
                    await _drain(receive)
                raise SandboxError(413, f"Request body larger than {config.max_body_bytes} bytes")
            if route != TOKEN_ROUTE:
                now = time.time()
                client = client_for_bearer(runtime.store, config, authorization, now)
                context.client_id = client.client_id
                decision = runtime.limiter.hit(
                    client.client_id,
                    client.rate_limit_per_minute or config.rate_limit_per_minute,
                    client.rate_limit_per_day or config.rate_limit_per_day,
                    config.time_scale,
                    now,
                )
                context.rate = decision
                if not decision.allowed:
                    raise SandboxError(429, f"Rate limit exceeded: {decision.limit} requests per period")
                check_route_allowed(client, route)
            plan = runtime.faults.plan_for(route)
            if plan is not None:
                context.faults.extend(plan.kinds)
                hung_up, receive = await self._apply_faults(plan, receive, context)
                if hung_up:
                    return True
        except SandboxError as error:
            if error.status == 401:
                error.headers.setdefault("WWW-Authenticate", "Bearer")
            await send_error(send, error, context.request_id)
            return False
        await self.app(scope, receive, send)
        return False

    async def _apply_faults(self, plan: FaultPlan, receive: Receive, context: RequestContext) -> tuple[bool, Receive]:
        if plan.latency:
            await asyncio.sleep(plan.latency)
        if plan.hang:
            hung_up, buffered = await _hang(receive, plan.hang)
            if hung_up:
                return True, receive
            receive = _replaying(buffered, receive)
        if plan.storm_retry_after is not None and not plan.storm_rate_headers:
            # A partner that answers with Retry-After alone: nothing else tells the client how long to wait.
            context.rate = None
            raise SandboxError(
                429, "Too many requests, please retry later", headers={"Retry-After": str(plan.storm_retry_after)}
            )
        if plan.storm_retry_after is not None:
            limit = context.rate.limit if context.rate is not None else self.runtime.config.rate_limit_per_minute
            context.rate = RateDecision(
                allowed=False,
                limit=limit,
                remaining=0,
                reset_at=time.time() + plan.storm_retry_after,
                retry_after=plan.storm_retry_after,
            )
            raise SandboxError(429, "Too many requests, please retry later")
        if plan.error_status is not None:
            raise SandboxError(
                plan.error_status,
                _SERVER_ERROR_MESSAGES.get(plan.error_status, "An unexpected error occurred"),
            )
        context.drop_after_commit = plan.drop_after_commit
        return False, receive


async def _drain(receive: Receive) -> None:
    read = 0
    while read <= _DRAIN_LIMIT:
        message = await receive()
        if message["type"] != "http.request":
            return
        read += len(message.get("body", b""))
        if not message.get("more_body", False):
            return
