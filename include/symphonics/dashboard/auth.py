"""Who may use the dashboard: the Airflow login every route depends on, and the auth manager's other answers.

A plugin's routes get no auth of their own, so every route of the dashboard depends on :func:`airflow_login`,
which reads the user from the JWT exactly as Airflow's own API does (``Authorization: Bearer`` header first, else
the UI's ``_token`` cookie). The other functions ask Airflow's auth manager what that user may do (trigger
``symphonics_publish``, read connections), refuse a NUL character in a parameter, and find the viewer's token and
the api-server the dashboard calls with it. Airflow is imported inside each function: the plugin module is also
loaded by the scheduler and workers, which need none of this.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from include.symphonics.dashboard import airflow_runs

if TYPE_CHECKING:
    from collections.abc import Sequence

log = logging.getLogger(__name__)

_bearer = HTTPBearer(auto_error=False)


def unauthorized(detail: str) -> HTTPException:
    """A 401 asking for a bearer token.

    :param detail: the answer's ``detail``.
    """
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
        raise unauthorized("Not authenticated: log in to Airflow") from exc
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
