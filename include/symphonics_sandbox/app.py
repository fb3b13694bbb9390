"""The sandbox as an ASGI app: ``create_app(config)`` for uvicorn, tests in-process, or the fixtures."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware

from include.symphonics_sandbox import admin, partner_api
from include.symphonics_sandbox.config import SandboxConfig
from include.symphonics_sandbox.errors import (
    FieldProblem,
    SandboxError,
    code_for_status,
    error_body,
    new_request_id,
)
from include.symphonics_sandbox.gateway import SandboxGateway
from include.symphonics_sandbox.openapi_document import finish_openapi
from include.symphonics_sandbox.runtime import SandboxRuntime

API_TITLE = "Symphonics API (sandbox)"
API_VERSION = "1.0.0"
_HTTP_MESSAGES = {404: "The requested resource was not found", 405: "Method not allowed on this resource"}


def _request_id(request: Request) -> str:
    context = request.scope.get("state", {}).get("sandbox_request")
    return context.request_id if context is not None else new_request_id()


def _error_response(request: Request, error: SandboxError) -> JSONResponse:
    return JSONResponse(
        error_body(error.error_code, error.message, error.details, _request_id(request)),
        status_code=error.status,
        headers=error.headers or None,
    )


async def _on_sandbox_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SandboxError)
    return _error_response(request, exc)


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    message = _HTTP_MESSAGES.get(exc.status_code, str(exc.detail))
    error = SandboxError(exc.status_code, message, code=code_for_status(exc.status_code))
    if exc.headers:
        error.headers.update(exc.headers)
    return _error_response(request, error)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    # Only path and query parameters reach FastAPI's validation (bodies are checked by validation.py).
    assert isinstance(exc, RequestValidationError)
    problems = [
        FieldProblem(".".join(str(part) for part in error.get("loc", ())[1:]) or "request", error.get("msg", "Invalid"))
        for error in exc.errors()
    ]
    return _error_response(request, SandboxError(422, "The request data failed validation", problems))


def create_app(config: SandboxConfig | None = None) -> FastAPI:
    """Build the sandbox app.

    In-process use (``TestClient``, ``httpx.ASGITransport``) works; there a dropped connection surfaces as a
    :class:`~include.symphonics_sandbox.gateway.DroppedConnection` raised to the caller, since there is no
    socket to close.

    :param config: the configuration (default: the partner's documented defaults and the demo client).
    """
    config = config or SandboxConfig()
    runtime = SandboxRuntime(config)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        runtime.ensure_background()
        try:
            yield
        finally:
            runtime.shutdown()

    app = FastAPI(
        title=API_TITLE,
        version=API_VERSION,
        description="A local server of the Symphonics partner API, built from the partner's document.",
        lifespan=lifespan,
        redirect_slashes=False,
    )
    app.state.runtime = runtime
    app.include_router(partner_api.router)
    app.include_router(admin.router)
    app.add_exception_handler(SandboxError, _on_sandbox_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = finish_openapi(
                get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_middleware(GZipMiddleware, minimum_size=1000)
    # Added last, so it is outermost: every response, error or not, passes through it.
    app.add_middleware(SandboxGateway, runtime=runtime)
    return app
