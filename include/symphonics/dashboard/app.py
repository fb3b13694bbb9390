"""The ops dashboard as a FastAPI app, mounted by the api-server plugin (``plugins/symphonics_dashboard.py``).

Routes (relative to the mount, ``/symphonics/dashboard`` in the plugin):

* ``GET /`` — the page (HTML; its charts are drawn by ``static/dashboard.js`` from the JSON below);
* ``GET /api/summary`` — every panel's figures as JSON;
* ``GET /static/{name}`` — the page's script and style sheet, shipped with the package (no CDN).

Every route requires an Airflow login: a plugin's routes get no auth of their own, so each one depends on
:func:`airflow_login`, which reads the user from the JWT exactly as Airflow's own API does (``Authorization:
Bearer`` header first, else the UI's ``_token`` cookie, which the browser sends to the iframe of the external
view). No or an invalid token is a 401; a user the auth manager does not let see the website is a 403.
Nothing is read or connected when the app is built: the ``sync`` database and the limits are resolved on the
first request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from importlib import resources
from typing import Annotated, Any

import psycopg
from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from include.symphonics.dashboard import queries
from include.symphonics.dashboard.settings import QuotaLimits, limits_from_airflow, sync_dsn_from_airflow

log = logging.getLogger(__name__)

#: The page's static files, by the name in their URL.
STATIC_FILES = {"dashboard.js": "application/javascript", "dashboard.css": "text/css"}
#: Seconds the limits read from the Symphonics connection are kept before being read again.
LIMITS_TTL_SECONDS = 60.0
_NO_STORE = {"Cache-Control": "no-store"}

_bearer = HTTPBearer(auto_error=False)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"})


async def airflow_login(
    request: Request, bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Any:
    """The Airflow user of the request, resolved by Airflow's auth manager; 401 without a valid login.

    Airflow answers 403 to a token it cannot decode; here any missing, expired or invalid token is a 401 (the
    caller is not logged in), and 403 is kept for a user the auth manager does not allow to see the UI.

    :param request: the request.
    :param bearer: the ``Authorization: Bearer`` credentials, if any.
    """
    # Imported here: the plugin module is also loaded by the scheduler and workers, which need none of this.
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
    from airflow.api_fastapi.core_api.security import get_user

    try:
        user = await get_user(request, None, bearer)
    except HTTPException as exc:
        raise _unauthorized("Not authenticated: log in to Airflow") from exc
    if not get_auth_manager().is_authorized_view(access_view=AccessView.WEBSITE, user=user):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="Forbidden")
    return user


class _Sources:
    """The ``sync`` database's DSN (resolved once) and the limits (re-read every minute), both lazy."""

    def __init__(
        self,
        dsn: str | Callable[[], str],
        limits: QuotaLimits | Callable[[], QuotaLimits],
    ) -> None:
        self._dsn = dsn
        self._limits = limits
        self._lock = threading.Lock()
        self._cached_limits: tuple[float, QuotaLimits] | None = None

    def dsn(self) -> str:
        with self._lock:
            if callable(self._dsn):
                self._dsn = self._dsn()
            return self._dsn

    def limits(self) -> QuotaLimits:
        if isinstance(self._limits, QuotaLimits):
            return self._limits
        with self._lock:
            if self._cached_limits is None or time.monotonic() - self._cached_limits[0] > LIMITS_TTL_SECONDS:
                self._cached_limits = (time.monotonic(), self._limits())
            return self._cached_limits[1]


def _package_text(name: str) -> str:
    return resources.files("include.symphonics.dashboard").joinpath(name).read_text(encoding="utf-8")


def create_dashboard_app(
    *,
    dsn: str | Callable[[], str] = sync_dsn_from_airflow,
    limits: QuotaLimits | Callable[[], QuotaLimits] = limits_from_airflow,
    login: Callable[..., Any] = airflow_login,
) -> FastAPI:
    """The dashboard app.

    :param dsn: the ``sync`` database, or a callable resolving it on the first request.
    :param limits: the quota limits, or a callable reading them (re-read every minute).
    :param login: the dependency that authenticates a request (Airflow's login by default; tests may swap it).
    """
    sources = _Sources(dsn, limits)
    app = FastAPI(
        title="Symphonics ops dashboard",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(login)],
    )

    @app.get("/", response_class=HTMLResponse)
    def page() -> HTMLResponse:
        """The dashboard page."""
        return HTMLResponse(_package_text("templates/dashboard.html"), headers=_NO_STORE)

    @app.get("/api/summary")
    def summary() -> JSONResponse:
        """Every panel's figures."""
        try:
            target = sources.dsn()
            with psycopg.connect(
                target,
                autocommit=True,
                connect_timeout=5,
                options="-c statement_timeout=10000 -c default_transaction_read_only=on",
            ) as conn:
                document = queries.collect(conn, sources.limits())
        except (psycopg.Error, RuntimeError, ValueError) as exc:
            log.warning("dashboard: the sync database is unavailable: %s", type(exc).__name__)
            return JSONResponse(
                {"detail": f"the sync database is unavailable ({type(exc).__name__})"},
                status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                headers={**_NO_STORE, "Retry-After": "30"},
            )
        return JSONResponse(document, headers=_NO_STORE)

    @app.get("/static/{name}")
    def static(name: str) -> Response:
        """The page's script and style sheet.

        :param name: ``dashboard.js`` or ``dashboard.css``.
        """
        media_type = STATIC_FILES.get(name)
        if media_type is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="Not found")
        return Response(_package_text(f"static/{name}"), media_type=media_type, headers={"Cache-Control": "no-cache"})

    return app
