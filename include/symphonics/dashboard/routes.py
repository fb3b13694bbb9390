"""The dashboard's routes (listed in :mod:`.app`'s docstring), one module-level handler each, on :data:`router`.

Every route depends on the Airflow login and the NUL check (:mod:`.auth`), both set on the router; a handler gets
what it reads from :func:`dashboard_context` (the :class:`DashboardContext` the app keeps in its state). A read of
the ``sync`` database that fails raises :class:`~.store.StoreUnavailable`, answered by the app's one exception
handler; the handlers only say what they read and how they answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response

from include.symphonics.dashboard import airflow_runs, check_again, dry_runs, queries, run_failures, timeline
from include.symphonics.dashboard.auth import (
    airflow_api_base,
    airflow_login,
    refuse_nul_bytes,
    unauthorized,
    viewer_token,
)
from include.symphonics.dashboard.store import SyncStore

log = logging.getLogger(__name__)

#: The page's static files, by the name in their URL.
STATIC_FILES = {"dashboard.js": "application/javascript", "dashboard.css": "text/css"}
NO_STORE = {"Cache-Control": "no-store"}


@dataclass(frozen=True)
class DashboardContext:
    """What the handlers read and ask, kept in the app's state by :func:`~.app.create_dashboard_app`.

    :param store: the ``sync`` database and the quota limits.
    :param connections_visible: whether a user may read connections (and so the client id).
    :param publish_allowed: whether a user may trigger ``symphonics_publish`` ("check again now").
    :param runs_reader: the reader of Airflow's REST API for a request (``None``: the api-server that served it,
        with the viewer's token).
    """

    store: SyncStore
    connections_visible: Callable[[Any], bool]
    publish_allowed: Callable[[Any], bool]
    runs_reader: Callable[[Request], airflow_runs.AirflowRuns] | None = None


def dashboard_context(request: Request) -> DashboardContext:
    """The app's :class:`DashboardContext` (the mounted dashboard app's own state, not the api-server's).

    :param request: the request.
    """
    context: DashboardContext = request.app.state.dashboard
    return context


def dashboard_store(context: Annotated[DashboardContext, Depends(dashboard_context)]) -> SyncStore:
    """The app's ``sync`` database and quota limits.

    :param context: the app's context.
    """
    return context.store


Context = Annotated[DashboardContext, Depends(dashboard_context)]
Store = Annotated[SyncStore, Depends(dashboard_store)]
#: The user :func:`~.auth.airflow_login` resolved (the app may swap the login: ``create_dashboard_app(login=…)``).
User = Annotated[Any, Depends(airflow_login)]

router = APIRouter(dependencies=[Depends(airflow_login), Depends(refuse_nul_bytes)])


def _package_text(name: str) -> str:
    return resources.files("include.symphonics.dashboard").joinpath(name).read_text(encoding="utf-8")


def _json(document: Any) -> JSONResponse:
    return JSONResponse(queries.jsonable(document), headers=NO_STORE)


def _csv(body: str, prefix: str, name: str) -> Response:
    """A CSV download named after ``name`` (a run id), kept to safe characters."""
    safe_name = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:100]
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={**NO_STORE, "Content-Disposition": f'attachment; filename="{prefix}-{safe_name}.csv"'},
    )


def _refused_by_airflow(exc: airflow_runs.AirflowApiRefused) -> JSONResponse:
    """Airflow's refusal of "check again", passed on as such (401/403; anything else is a bad gateway)."""
    log.info("dashboard: check again refused by Airflow (%s)", exc.status)
    return JSONResponse(
        {"detail": str(exc), "airflow_status": exc.status},
        status_code=exc.status if exc.status in (401, 403) else status.HTTP_502_BAD_GATEWAY,
        headers=NO_STORE,
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


def _airflow_api(context: DashboardContext, request: Request) -> airflow_runs.AirflowRuns:
    """Airflow's REST API as the viewer: the api-server that served the request, with the viewer's token."""
    if context.runs_reader is not None:
        return context.runs_reader(request)
    token = viewer_token(request)
    if not token:
        raise unauthorized("Not authenticated: log in to Airflow")
    return airflow_runs.AirflowRuns(airflow_api_base(request), token)


def _runs_panel(conn: psycopg.Connection[Any], kind: str | None) -> Any:
    """The runs panel of ``kind`` (every kind for ``None``), or ``no_data`` before its tables exist."""
    return queries.guarded("runs", queries.present_tables(conn), lambda: queries.runs_panel(conn, kind))


def _stored_dry_run(store: SyncStore, run_id: str | None) -> dict[str, Any]:
    """A dry run's stored result; 404 when ``run_id`` names none."""
    result = store.read(lambda conn: dry_runs.dry_run(conn, run_id, store.limits()))
    if result is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no stored dry run")
    return result


@router.get("/", response_class=HTMLResponse)
def page() -> HTMLResponse:
    """The dashboard page."""
    return HTMLResponse(_package_text("templates/dashboard.html"), headers=NO_STORE)


@router.get("/api/summary")
def summary(user: User, context: Context) -> JSONResponse:
    """Every panel's figures; the client id only for a user allowed to read connections."""
    store = context.store
    document = store.read(lambda conn: queries.collect(conn, store.limits()))
    if not context.connections_visible(user):
        document["limits"]["client_id"] = None
        document["limits"]["client_id_hidden"] = True
    return JSONResponse(document, headers=NO_STORE)


@router.get("/api/runs")
def runs(store: Store, kind: str | None = None) -> JSONResponse:
    """The runs panel, of one kind (``scheduled``, ``manual``, ``backfill``, ``asset_triggered``, ``dry_run``)."""
    if kind is not None and kind not in queries.RUN_KINDS:
        raise HTTPException(422, detail=f"kind must be one of {', '.join(queries.RUN_KINDS)}")
    return _json(store.read(lambda conn: _runs_panel(conn, kind)))


@router.get("/api/search")
def search(store: Store, key: str = "") -> JSONResponse:
    """The interventions ``key`` names (an external id, a Symphonics id or a request id)."""
    found = store.read(lambda conn: timeline.search(conn, key))
    return _json({"key": key.strip(), "rows": found})


@router.get("/api/timeline")
def row_timeline(store: Store, external_id: str) -> JSONResponse:
    """One intervention's story, oldest event first; 404 when the ledger does not know it."""
    story = store.read(lambda conn: timeline.timeline(conn, external_id))
    if story is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such intervention in the ledger")
    return _json(story)


@router.get("/api/run_failures")
def failures_of_run(store: Store, run_id: str) -> JSONResponse:
    """The rows ``run_id`` left failed, with their reasons."""
    return _json(store.read(lambda conn: run_failures.run_failures(conn, run_id)))


@router.get("/api/run_failures.csv")
def failures_of_run_csv(store: Store, run_id: str) -> Response:
    """The same rows as CSV, to download."""
    failures = store.read(lambda conn: run_failures.run_failures(conn, run_id))
    return _csv(run_failures.as_csv(failures), "failed-rows", run_id)


@router.get("/api/dry_run")
def dry_run_result(store: Store, run_id: str | None = None) -> JSONResponse:
    """A dry run's stored result and its cost under the quota left."""
    return _json(_stored_dry_run(store, run_id))


@router.get("/api/dry_run.csv")
def dry_run_csv(store: Store, run_id: str | None = None) -> Response:
    """The same rows as CSV, to download."""
    result = _stored_dry_run(store, run_id)
    return _csv(dry_runs.as_csv(result), "dry-run", result["run_id"])


@router.get("/api/check_again")
def check_again_preview(store: Store, external_id: Annotated[list[str] | None, Query()] = None) -> JSONResponse:
    """The cost of checking these rows again now."""
    ids = _external_ids(external_id or [])
    return _json(store.read(lambda conn: check_again.preview(conn, ids, store.limits())))


@router.post("/api/check_again")
async def check_again_now(request: Request, user: User, context: Context) -> JSONResponse:
    """Trigger ``symphonics_publish`` with the rows, as the viewer (JSON only: a cross-site form cannot).

    The permission is checked before the body is read: a viewer's request costs nothing.
    """
    if not context.publish_allowed(user):
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
    reader = _airflow_api(context, request)
    try:
        run = await run_in_threadpool(reader.trigger_publish, ids)
    except airflow_runs.AirflowApiRefused as exc:
        return _refused_by_airflow(exc)
    return JSONResponse({**run, "external_ids": ids}, headers=NO_STORE)


@router.get("/api/failed_runs")
def failed_runs(request: Request, context: Context) -> JSONResponse:
    """Failed runs of every Symphonics DAG, as Airflow's REST API shows them to the viewer."""
    return _json(airflow_runs.failed_runs_panel(_airflow_api(context, request)))


@router.get("/static/{name}")
def static(name: str) -> Response:
    """The page's script and style sheet.

    :param name: ``dashboard.js`` or ``dashboard.css``.
    """
    media_type = STATIC_FILES.get(name)
    if media_type is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="Not found")
    return Response(_package_text(f"static/{name}"), media_type=media_type, headers={"Cache-Control": "no-cache"})
