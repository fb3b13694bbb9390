"""The dashboard app: every route behind the login (401 without it), the page and its figures with it."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from include.symphonics.dashboard import create_dashboard_app
from tests.dashboard.conftest import Seeded

ROUTES = [
    "/",
    "/api/summary",
    "/api/runs",
    "/api/failed_runs",
    "/static/dashboard.js",
    "/static/dashboard.css",
    "/static/missing.js",
]


def _logged_in() -> dict[str, str]:
    return {"username": "test-user"}


@pytest.fixture
def guarded(seeded: Seeded) -> TestClient:
    """The app with Airflow's real login dependency."""
    return TestClient(create_dashboard_app(dsn=seeded.url, limits=seeded.limits))


@pytest.fixture
def logged_in(seeded: Seeded) -> TestClient:
    """The app with the login dependency replaced by a user (the figures, not the auth, are under test)."""
    return TestClient(create_dashboard_app(dsn=seeded.url, limits=seeded.limits, login=_logged_in))


@pytest.mark.parametrize("route", ROUTES)
def test_every_route_without_a_login_is_401(guarded: TestClient, route: str) -> None:
    response = guarded.get(route)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.fixture(scope="module")
def auth_manager() -> Any:
    """Airflow's configured auth manager (the simple one here), initialised as the api-server does."""
    from airflow.api_fastapi.app import init_auth_manager

    return init_auth_manager()


def test_an_invalid_token_is_401_too(guarded: TestClient, auth_manager: Any) -> None:
    assert guarded.get("/api/summary", headers={"Authorization": "Bearer not-a-jwt"}).status_code == 401
    assert guarded.get("/api/summary", cookies={"_token": "not-a-jwt"}).status_code == 401


def test_a_valid_airflow_token_passes(guarded: TestClient, auth_manager: Any) -> None:
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    token = auth_manager.generate_jwt(SimpleAuthManagerUser(username="ops", role="viewer"))

    assert guarded.get("/api/summary", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert guarded.get("/", cookies={"_token": token}).status_code == 200


def test_building_the_app_reads_nothing() -> None:
    def must_not_run() -> str:
        raise AssertionError("resolved at build time")

    create_dashboard_app(dsn=must_not_run, limits=must_not_run, login=_logged_in)  # type: ignore[arg-type]


def test_page_and_static_files(logged_in: TestClient) -> None:
    page = logged_in.get("/")
    assert page.status_code == 200
    assert 'src="static/dashboard.js"' in page.text
    assert "http" not in page.text.split("<body>")[1]
    script = logged_in.get("/static/dashboard.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("application/javascript")
    assert logged_in.get("/static/missing.js").status_code == 404


def test_summary_json(logged_in: TestClient) -> None:
    response = logged_in.get("/api/summary")

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    panels = response.json()["panels"]
    assert panels["backlog"]["backlog"] == 12
    assert panels["webhooks"]["accepted"] == 6


def test_summary_when_the_database_is_down(seeded: Seeded) -> None:
    client = TestClient(
        create_dashboard_app(
            dsn="host=/nonexistent-socket-dir dbname=nothing connect_timeout=1", limits=seeded.limits, login=_logged_in
        )
    )

    response = client.get("/api/summary")

    assert response.status_code == 503
    assert "sync database is unavailable" in response.json()["detail"]


def test_the_client_id_only_for_users_who_may_read_connections(seeded: Seeded) -> None:
    def app(visible: bool) -> TestClient:
        return TestClient(
            create_dashboard_app(
                dsn=seeded.url, limits=seeded.limits, login=_logged_in, connections_visible=lambda user: visible
            )
        )

    allowed = app(True).get("/api/summary").json()["limits"]
    refused = app(False).get("/api/summary").json()["limits"]

    assert allowed["client_id"] == seeded.limits.client_id
    assert "client_id_hidden" not in allowed
    assert refused["client_id"] is None
    assert refused["client_id_hidden"] is True
    assert seeded.limits.client_id is not None
    assert seeded.limits.client_id not in app(False).get("/api/summary").text


def test_runs_by_kind_and_filtered(logged_in: TestClient) -> None:
    every = logged_in.get("/api/runs").json()
    dry = logged_in.get("/api/runs", params={"kind": "dry_run"}).json()

    assert every["by_kind"]["dry_run"] == 1
    assert every["total"] == 3
    assert set(every["by_kind"]) >= {"scheduled", "manual", "backfill", "asset_triggered", "dry_run"}
    assert [run["run_id"] for run in dry["runs"]] == ["manual__dry"]
    assert dry["kind"] == "dry_run"
    assert logged_in.get("/api/runs", params={"kind": "manual"}).json()["runs"] == []
    assert logged_in.get("/api/runs", params={"kind": "nonsense"}).status_code == 422
