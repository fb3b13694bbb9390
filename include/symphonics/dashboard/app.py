"""The ops dashboard as a FastAPI app, mounted by the api-server plugin (``plugins/symphonics_dashboard.py``).

Routes (relative to the mount, ``/symphonics/dashboard`` in the plugin):

* ``GET /`` — the page (HTML; its charts are drawn by ``static/dashboard.js`` from the JSON below);
* ``GET /api/summary`` — every panel's figures as JSON (the client id only for a viewer allowed to read
  connections, as ``/api/v2/connections`` would decide);
* ``GET /api/runs?kind=`` — the publish runs panel of one kind (the page's filters);
* ``GET /api/search?key=`` — the interventions an external id, a Symphonics id or a request id names;
* ``GET /api/timeline?external_id=`` — one intervention's story in time order (``timeline.py``);
* ``GET /api/run_failures?run_id=`` and ``/api/run_failures.csv?run_id=`` — the rows a run left invalid, rejected,
  failed or dead lettered, with their reasons (JSON, or CSV to download);
* ``GET /api/dry_run?run_id=`` and ``/api/dry_run.csv?run_id=`` — a dry run's stored result (the latest without
  ``run_id``): rows to create, PATCH, skip or refuse, the calls it needs, today's publish allowance left, the ETA;
* ``GET /api/check_again?external_id=…`` — what checking those rows again now would cost (calls, today's publish
  allowance left, ETA); ``POST /api/check_again`` (JSON ``{"external_ids": [...]}``) triggers ``symphonics_publish``
  with them through Airflow's REST API with the viewer's token: Airflow's refusal (403) is passed on as such;
* ``GET /api/failed_runs`` — failed runs of every Symphonics DAG with their failed task and error, read from
  Airflow's REST API with the viewer's own token (``airflow_runs.py``);
* ``GET /static/{name}`` — the page's script and style sheet, shipped with the package (no CDN).

Every route requires an Airflow login: a plugin's routes get no auth of their own, so each one depends on
:func:`airflow_login`, which reads the user from the JWT exactly as Airflow's own API does (``Authorization:
Bearer`` header first, else the UI's ``_token`` cookie, which the browser sends to the iframe of the external
view). No or an invalid token is a 401; a user the auth manager does not let see the website, or read every
``symphonics_*`` DAG and its runs (``is_authorized_dag``), is a 403. ``POST /api/check_again`` also needs the right
to trigger ``symphonics_publish``, checked before its body is read (at most 64 KiB; 400 for a body that is not JSON).
A NUL character in a parameter is a 400 before anything is read.
Nothing is read or connected when the app is built: the ``sync`` database and the limits are resolved on the
first request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from importlib import resources
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import psycopg
from fastapi import Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from include.symphonics.dashboard import airflow_runs, check_again, dry_runs, queries, run_failures, timeline
from include.symphonics.dashboard.settings import QuotaLimits, limits_from_airflow, sync_dsn_from_airflow
from include.symphonics.db import with_options

if TYPE_CHECKING:
    from collections.abc import Sequence

log = logging.getLogger(__name__)

#: The page's static files, by the name in their URL.
STATIC_FILES = {"dashboard.js": "application/javascript", "dashboard.css": "text/css"}
#: Seconds the limits read from the Symphonics connection are kept before being read again.
LIMITS_TTL_SECONDS = 60.0
_NO_STORE = {"Cache-Control": "no-store"}
#: Every read of the dashboard: short, and read-only whatever the login may do.
_READ_ONLY_OPTIONS = "-c statement_timeout=10000 -c default_transaction_read_only=on"

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
    auth_manager = get_auth_manager()
    if not auth_manager.is_authorized_view(access_view=AccessView.WEBSITE, user=user):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="Forbidden")
    if not auth_manager.batch_is_authorized_dag(_dag_reads(airflow_runs.SYMPHONICS_DAGS), user=user):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="Forbidden: you may not read the Symphonics DAGs")
    return user


def _dag_reads(dag_ids: Sequence[str]) -> list[Any]:
    """The auth manager's requests for reading each DAG and its runs (what the dashboard's panels show)."""
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails

    return [
        {"method": "GET", "access_entity": entity, "details": DagDetails(id=dag_id)}
        for dag_id in dag_ids
        for entity in (None, DagAccessEntity.RUN)
    ]


def airflow_may_trigger_publish(user: Any) -> bool:
    """Whether Airflow's auth manager lets ``user`` trigger ``symphonics_publish`` (create a run of it).

    :param user: the user :func:`airflow_login` resolved.
    """
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails

    return bool(
        get_auth_manager().is_authorized_dag(
            method="POST",
            access_entity=DagAccessEntity.RUN,
            details=DagDetails(id=airflow_runs.PUBLISH_DAG),
            user=user,
        )
    )


def refuse_nul_bytes(request: Request) -> None:
    """400 for a NUL character in a query or path parameter, before anything is read (PostgreSQL's text cannot
    hold one: the read would fail as if the database were down).

    :param request: the request.
    """
    values = [*request.query_params.keys(), *request.query_params.values(), *map(str, request.path_params.values())]
    if any("\x00" in value for value in values):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="a parameter holds a NUL character")


def airflow_connections_visible(user: Any) -> bool:
    """Whether Airflow lets ``user`` read connections (the client id is the Symphonics connection's login).

    :param user: the user :func:`airflow_login` resolved.
    """
    from airflow.api_fastapi.app import get_auth_manager

    try:
        return bool(get_auth_manager().is_authorized_connection(method="GET", user=user))
    except Exception as exc:  # no auth manager, a user it cannot judge: the client id stays hidden
        log.info("dashboard: connection permission unknown (%s): client id hidden", type(exc).__name__)
        return False


def viewer_token(request: Request) -> str | None:
    """The viewer's JWT: the ``Authorization: Bearer`` header, else the UI's ``_token`` cookie.

    :param request: the request (already authenticated by :func:`airflow_login`).
    """
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.cookies.get("_token")


def airflow_api_base(request: Request) -> str:
    """The api-server's root for the dashboard's own calls: ``[api] base_url`` when it is a URL, else this
    api-server on loopback (``[api] port``).

    Never the request's ``Host`` header: a client could point the server's request, and the viewer's token, at a
    host of their choosing.

    :param request: the request (unused: kept so a deployment can swap this function for one that reads it).
    """
    from airflow.configuration import conf

    configured = (conf.get("api", "base_url", fallback="") or "").strip()
    if configured.startswith(("http://", "https://")):
        return configured.rstrip("/")
    return f"http://127.0.0.1:{conf.getint('api', 'port', fallback=8080)}"


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


#: What a read of the ``sync`` database may raise when it is down, misconfigured or not migrated yet.
_UNAVAILABLE = (psycopg.Error, RuntimeError, ValueError)

T = TypeVar("T")


def _unavailable(exc: Exception) -> JSONResponse:
    if isinstance(exc, psycopg.DataError):
        # The request's values, not the database: a bad request, not an outage.
        log.info("dashboard: a parameter the sync database refused (%s)", type(exc).__name__)
        return JSONResponse(
            {"detail": f"a parameter the sync database refuses ({type(exc).__name__})"},
            status_code=status.HTTP_400_BAD_REQUEST,
            headers=_NO_STORE,
        )
    log.warning("dashboard: the sync database is unavailable: %s", type(exc).__name__)
    return JSONResponse(
        {"detail": f"the sync database is unavailable ({type(exc).__name__})"},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={**_NO_STORE, "Retry-After": "30"},
    )


def _json(document: Any) -> JSONResponse:
    return JSONResponse(queries.jsonable(document), headers=_NO_STORE)


def _csv(body: str, prefix: str, name: str) -> Response:
    """A CSV download named after ``name`` (a run id), kept to safe characters."""
    safe_name = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:100]
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={**_NO_STORE, "Content-Disposition": f'attachment; filename="{prefix}-{safe_name}.csv"'},
    )


def _refused_by_airflow(exc: airflow_runs.AirflowApiRefused) -> JSONResponse:
    """Airflow's refusal of "check again", passed on as such (401/403; anything else is a bad gateway)."""
    log.info("dashboard: check again refused by Airflow (%s)", exc.status)
    return JSONResponse(
        {"detail": str(exc), "airflow_status": exc.status},
        status_code=exc.status if exc.status in (401, 403) else status.HTTP_502_BAD_GATEWAY,
        headers=_NO_STORE,
    )


async def _capped_body(request: Request, limit: int) -> bytes:
    """The request's body; 413 past ``limit`` bytes, refused on its ``Content-Length`` or as soon as it is read."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, detail=f"at most {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, detail=f"at most {limit} bytes")
    return bytes(body)


def _external_ids(raw: list[str]) -> list[str]:
    """The external ids of a "check again", cleaned; 422 when there are none or one is malformed."""
    try:
        ids = check_again.clean_ids(raw)
    except ValueError as exc:
        raise HTTPException(422, detail=str(exc)) from exc
    if not ids:
        raise HTTPException(422, detail="give at least one external_id")
    return ids


def create_dashboard_app(
    *,
    dsn: str | Callable[[], str] = sync_dsn_from_airflow,
    limits: QuotaLimits | Callable[[], QuotaLimits] = limits_from_airflow,
    login: Callable[..., Any] = airflow_login,
    connections_visible: Callable[[Any], bool] = airflow_connections_visible,
    runs_reader: Callable[[Request], airflow_runs.AirflowRuns] | None = None,
    publish_allowed: Callable[[Any], bool] = airflow_may_trigger_publish,
) -> FastAPI:
    """The dashboard app.

    :param dsn: the ``sync`` database, or a callable resolving it on the first request.
    :param limits: the quota limits, or a callable reading them (re-read every minute).
    :param login: the dependency that authenticates a request (Airflow's login by default; tests may swap it).
    :param connections_visible: whether a user may read connections (and so the client id).
    :param runs_reader: the reader of Airflow's REST API for a request (default: the api-server that served it,
        with the viewer's token).
    :param publish_allowed: whether a user may trigger ``symphonics_publish`` ("check again now").
    """
    sources = _Sources(dsn, limits)
    app = FastAPI(
        title="Symphonics ops dashboard",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(login), Depends(refuse_nul_bytes)],
    )

    def read(query: Callable[[psycopg.Connection[Any]], T]) -> T:
        """``query`` on a read-only session of the ``sync`` database (10 s per statement)."""
        # The read-only options go after the connection's own (an ``options`` extra is kept, not replaced).
        target = with_options(sources.dsn(), _READ_ONLY_OPTIONS)
        with psycopg.connect(target, autocommit=True, connect_timeout=5) as conn:
            return query(conn)

    def airflow_api(request: Request) -> airflow_runs.AirflowRuns:
        """Airflow's REST API as the viewer: the api-server that served the request, with the viewer's token."""
        if runs_reader is not None:
            return runs_reader(request)
        token = viewer_token(request)
        if not token:
            raise _unauthorized("Not authenticated: log in to Airflow")
        return airflow_runs.AirflowRuns(airflow_api_base(request), token)

    def read_dry_run(run_id: str | None) -> dict[str, Any]:
        result = read(lambda conn: dry_runs.dry_run(conn, run_id, sources.limits()))
        if result is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no stored dry run")
        return result

    @app.get("/", response_class=HTMLResponse)
    def page() -> HTMLResponse:
        """The dashboard page."""
        return HTMLResponse(_package_text("templates/dashboard.html"), headers=_NO_STORE)

    logged_in_user = Depends(login)

    @app.get("/api/summary")
    # A default, not Annotated: ``login`` is local to this function, and the annotations are strings that FastAPI
    # resolves in the module's namespace.
    def summary(user: Any = logged_in_user) -> JSONResponse:
        """Every panel's figures; the client id only for a user allowed to read connections."""
        try:
            document = read(lambda conn: queries.collect(conn, sources.limits()))
        except _UNAVAILABLE as exc:
            return _unavailable(exc)
        if not connections_visible(user):
            document["limits"]["client_id"] = None
            document["limits"]["client_id_hidden"] = True
        return JSONResponse(document, headers=_NO_STORE)

    @app.get("/api/runs")
    def runs(kind: str | None = None) -> JSONResponse:
        """The runs panel, of one kind (``scheduled``, ``manual``, ``backfill``, ``asset_triggered``, ``dry_run``)."""
        if kind is not None and kind not in queries.RUN_KINDS:
            raise HTTPException(422, detail=f"kind must be one of {', '.join(queries.RUN_KINDS)}")

        def runs_panel(conn: psycopg.Connection[Any]) -> Any:
            return queries.guarded("runs", queries.present_tables(conn), lambda: queries.runs_panel(conn, kind))

        try:
            return _json(read(runs_panel))
        except _UNAVAILABLE as exc:
            return _unavailable(exc)

    @app.get("/api/search")
    def search(key: str = "") -> JSONResponse:
        """The interventions ``key`` names (an external id, a Symphonics id or a request id)."""
        try:
            found = read(lambda conn: timeline.search(conn, key))
        except _UNAVAILABLE as exc:
            return _unavailable(exc)
        return _json({"key": key.strip(), "rows": found})

    @app.get("/api/timeline")
    def row_timeline(external_id: str) -> JSONResponse:
        """One intervention's story, oldest event first; 404 when the ledger does not know it."""
        try:
            story = read(lambda conn: timeline.timeline(conn, external_id))
        except _UNAVAILABLE as exc:
            return _unavailable(exc)
        if story is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such intervention in the ledger")
        return _json(story)

    @app.get("/api/run_failures")
    def failures_of_run(run_id: str) -> JSONResponse:
        """The rows ``run_id`` left failed, with their reasons."""
        try:
            return _json(read(lambda conn: run_failures.run_failures(conn, run_id)))
        except _UNAVAILABLE as exc:
            return _unavailable(exc)

    @app.get("/api/run_failures.csv")
    def failures_of_run_csv(run_id: str) -> Response:
        """The same rows as CSV, to download."""
        try:
            failures = read(lambda conn: run_failures.run_failures(conn, run_id))
        except _UNAVAILABLE as exc:
            return _unavailable(exc)
        return _csv(run_failures.as_csv(failures), "failed-rows", run_id)

    @app.get("/api/dry_run")
    def dry_run_result(run_id: str | None = None) -> JSONResponse:
        """A dry run's stored result and its cost under the quota left."""
        try:
            return _json(read_dry_run(run_id))
        except _UNAVAILABLE as exc:
            return _unavailable(exc)

    @app.get("/api/dry_run.csv")
    def dry_run_csv(run_id: str | None = None) -> Response:
        """The same rows as CSV, to download."""
        try:
            result = read_dry_run(run_id)
        except _UNAVAILABLE as exc:
            return _unavailable(exc)
        return _csv(dry_runs.as_csv(result), "dry-run", result["run_id"])

    @app.get("/api/check_again")
    def check_again_preview(external_id: Annotated[list[str] | None, Query()] = None) -> JSONResponse:
        """The cost of checking these rows again now."""
        ids = _external_ids(external_id or [])
        try:
            return _json(read(lambda conn: check_again.preview(conn, ids, sources.limits())))
        except _UNAVAILABLE as exc:
            return _unavailable(exc)

    @app.post("/api/check_again")
    async def check_again_now(request: Request, user: Any = logged_in_user) -> JSONResponse:
        """Trigger ``symphonics_publish`` with the rows, as the viewer (JSON only: a cross-site form cannot).

        The permission is checked before the body is read: a viewer's request costs nothing.
        """
        if not publish_allowed(user):
            # Airflow's auth manager refused, as its REST API would: the same answer as a refusal passed on from it.
            refused = airflow_runs.AirflowApiRefused(403, "Airflow does not let you trigger symphonics_publish")
            return _refused_by_airflow(refused)
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, detail="send JSON")
        try:
            raw = check_again.ids_from_body(await _capped_body(request, check_again.MAX_BODY_BYTES))
        except ValueError as exc:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(exc)) from exc
        except TypeError as exc:
            raise HTTPException(422, detail=str(exc)) from exc
        ids = _external_ids(raw)
        reader = airflow_api(request)
        try:
            run = await run_in_threadpool(reader.trigger_publish, ids)
        except airflow_runs.AirflowApiRefused as exc:
            return _refused_by_airflow(exc)
        return JSONResponse({**run, "external_ids": ids}, headers=_NO_STORE)

    @app.get("/api/failed_runs")
    def failed_runs(request: Request) -> JSONResponse:
        """Failed runs of every Symphonics DAG, as Airflow's REST API shows them to the viewer."""
        return _json(airflow_runs.failed_runs_panel(airflow_api(request)))

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
