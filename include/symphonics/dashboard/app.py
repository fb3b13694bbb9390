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

The handlers are in :mod:`.routes`, the store they read in :mod:`.store`, the login and permissions in :mod:`.auth`;
this module builds the app from them. Every route requires an Airflow login: a plugin's routes get no auth of their
own, so each one depends on :func:`~.auth.airflow_login`, which reads the user from the JWT exactly as Airflow's
own API does (``Authorization: Bearer`` header first, else the UI's ``_token`` cookie, which the browser sends to
the iframe of the external view). No or an invalid token is a 401; a user the auth manager does not let see the
website, or read every ``symphonics_*`` DAG and its runs (``is_authorized_dag``), is a 403. ``POST /api/check_again``
also needs the right to trigger ``symphonics_publish``, checked before its body is read (at most 64 KiB; 400 for a
body that is not JSON). A NUL character in a parameter is a 400 before anything is read.
Nothing is read or connected when the app is built: the ``sync`` database and the limits are resolved on the
first request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import psycopg
from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

from include.symphonics.dashboard import airflow_runs
from include.symphonics.dashboard.auth import (
    airflow_connections_visible,
    airflow_login,
    airflow_may_trigger_publish,
)
from include.symphonics.dashboard.routes import NO_STORE, DashboardContext, router
from include.symphonics.dashboard.settings import QuotaLimits, limits_from_airflow, sync_dsn_from_airflow
from include.symphonics.dashboard.store import StoreUnavailable, SyncStore

log = logging.getLogger(__name__)


def unavailable_answer(request: Request, exc: Exception) -> JSONResponse:
    """The answer to a failed read of the ``sync`` database (:class:`~.store.StoreUnavailable`), for every route:
    503 to retry in 30 s, or 400 when the database refused a value of the request.

    :param request: the request (unused: an exception handler's signature).
    :param exc: the :class:`~.store.StoreUnavailable` a route's read raised.
    """
    cause = exc.cause if isinstance(exc, StoreUnavailable) else exc
    if isinstance(cause, psycopg.DataError):
        # The request's values, not the database: a bad request, not an outage.
        log.info("dashboard: a parameter the sync database refused (%s)", type(cause).__name__)
        return JSONResponse(
            {"detail": f"a parameter the sync database refuses ({type(cause).__name__})"},
            status_code=status.HTTP_400_BAD_REQUEST,
            headers=NO_STORE,
        )
    log.warning("dashboard: the sync database is unavailable: %s", type(cause).__name__)
    return JSONResponse(
        {"detail": f"the sync database is unavailable ({type(cause).__name__})"},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={**NO_STORE, "Retry-After": "30"},
    )


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
    app = FastAPI(title="Symphonics ops dashboard", docs_url=None, redoc_url=None, openapi_url=None)
    # The handlers find these in the state of the app that serves them (mounted: this one, not the api-server).
    app.state.dashboard = DashboardContext(
        store=SyncStore(dsn, limits),
        connections_visible=connections_visible,
        publish_allowed=publish_allowed,
        runs_reader=runs_reader,
    )
    if login is not airflow_login:
        # Every route and the handlers that need the user depend on ``airflow_login``: another login replaces it.
        app.dependency_overrides[airflow_login] = login
    app.include_router(router)
    app.add_exception_handler(StoreUnavailable, unavailable_answer)
    return app
