"""The dashboard's inputs from outside: "check again" refuses before any work and answers 4xx to bad bodies, a NUL
byte in a parameter is a bad request (not an outage), and the routes need read access to the Symphonics DAGs."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from include.symphonics.dashboard import airflow_runs, create_dashboard_app
from include.symphonics.dashboard.check_again import MAX_BODY_BYTES
from tests.dashboard.conftest import Seeded

pytestmark = pytest.mark.integration

JSON = {"Content-Type": "application/json"}


class _NoAirflow:
    """A reader of Airflow's REST API that must not be reached."""

    def __init__(self) -> None:
        self.triggered: list[list[str]] = []

    def trigger_publish(self, ids: list[str]) -> dict[str, Any]:
        self.triggered.append(ids)
        return {"dag_id": "symphonics_publish", "dag_run_id": "manual__x", "state": "queued"}


def _app(seeded: Seeded, *, may_trigger: bool, reader: _NoAirflow | None = None) -> TestClient:
    reader = reader or _NoAirflow()
    return TestClient(
        create_dashboard_app(
            dsn=seeded.url,
            limits=seeded.limits,
            login=lambda: {"username": "probe"},
            runs_reader=lambda request: reader,  # type: ignore[arg-type,return-value]
            publish_allowed=lambda user: may_trigger,
        ),
        raise_server_exceptions=False,
    )


def test_a_viewer_is_refused_before_the_body_is_read(seeded: Seeded) -> None:
    read: list[int] = []

    def body() -> Iterator[bytes]:
        for _ in range(50):
            read.append(1)
            yield b"[" * 1024 * 1024

    response = _app(seeded, may_trigger=False).post("/api/check_again", content=body(), headers=JSON)

    assert response.status_code == 403
    assert len(read) <= 1  # at most the first chunk the client sends before the answer: never parsed


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"\xff\xfe",
        b"[" * 50_000,
        b'{"external_ids": ' + b"[" * 30_000 + b"]" * 30_000 + b"}",
        b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
    ],
    ids=["malformed", "not-utf8", "deep-array", "deep-ids", "deep-object"],
)
def test_bad_json_is_400_without_a_traceback(seeded: Seeded, body: bytes, caplog: pytest.LogCaptureFixture) -> None:
    reader = _NoAirflow()
    with caplog.at_level(logging.DEBUG):
        response = _app(seeded, may_trigger=True, reader=reader).post("/api/check_again", content=body, headers=JSON)

    assert response.status_code == 400
    assert "Traceback" not in caplog.text
    assert not [record for record in caplog.records if record.exc_info]
    assert reader.triggered == []


def test_a_body_past_the_cap_is_413_and_a_good_one_triggers(seeded: Seeded) -> None:
    reader = _NoAirflow()
    client = _app(seeded, may_trigger=True, reader=reader)
    padded = json.dumps({"external_ids": ["int_000001"], "pad": "x" * MAX_BODY_BYTES}).encode()

    assert client.post("/api/check_again", content=padded, headers=JSON).status_code == 413

    def chunked() -> Iterator[bytes]:  # no Content-Length: cut while read
        yield padded

    assert client.post("/api/check_again", content=chunked(), headers=JSON).status_code == 413
    assert client.post("/api/check_again", json={"external_ids": "int_1"}).status_code == 422
    assert reader.triggered == []
    good = client.post("/api/check_again", json={"external_ids": ["int_000001"]})
    assert good.status_code == 200
    assert reader.triggered == [["int_000001"]]


@pytest.mark.parametrize(
    ("route", "params"),
    [
        ("/api/search", {"key": "int\x00000001"}),
        ("/api/timeline", {"external_id": "int\x00000001"}),
        ("/api/run_failures", {"run_id": "manual__\x00"}),
        ("/api/run_failures.csv", {"run_id": "manual__\x00"}),
        ("/api/dry_run", {"run_id": "\x00"}),
        ("/api/check_again", {"external_id": "int\x00"}),
    ],
)
def test_a_nul_byte_in_a_parameter_is_400_not_an_outage(
    seeded: Seeded, route: str, params: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        response = _app(seeded, may_trigger=True).get(route, params=params)

    assert response.status_code == 400
    assert "unavailable" not in response.text
    assert "unavailable" not in caplog.text


def test_the_dashboards_dags_are_the_projects_dags() -> None:
    dags = {path.stem for path in (Path(__file__).parents[2] / "dags").glob("symphonics_*.py")}

    assert set(airflow_runs.SYMPHONICS_DAGS) == dags


@pytest.fixture
def auth_manager() -> Any:
    """Airflow's configured auth manager (the simple one here), initialised as the api-server does."""
    from airflow.api_fastapi.app import init_auth_manager

    return init_auth_manager()


def _token(auth_manager: Any, role: str) -> dict[str, str]:
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return {"Authorization": f"Bearer {auth_manager.generate_jwt(SimpleAuthManagerUser(username='p', role=role))}"}


def test_a_user_who_may_not_read_the_symphonics_dags_is_refused(
    seeded: Seeded, auth_manager: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[tuple[str, str | None]] = []
    allowed = auth_manager.is_authorized_dag

    def no_reconcile(**kwargs: Any) -> bool:
        asked.append((kwargs["method"], kwargs["details"].id if kwargs.get("details") else None))
        return bool(kwargs["details"].id != "symphonics_reconcile" and allowed(**kwargs))

    client = TestClient(create_dashboard_app(dsn=seeded.url, limits=seeded.limits))
    headers = _token(auth_manager, "admin")
    assert client.get("/api/summary", headers=headers).status_code == 200
    monkeypatch.setattr(auth_manager, "is_authorized_dag", no_reconcile)

    for route in ("/", "/api/summary", "/api/runs", "/api/timeline?external_id=int_000001"):
        assert client.get(route, headers=headers).status_code == 403
    assert ("GET", "symphonics_reconcile") in asked


def test_check_again_needs_the_right_to_trigger_publish(seeded: Seeded, auth_manager: Any) -> None:
    client = TestClient(create_dashboard_app(dsn=seeded.url, limits=seeded.limits))

    refused = client.post("/api/check_again", content=b"{not json", headers={**JSON, **_token(auth_manager, "viewer")})
    tried = client.post("/api/check_again", content=b"{not json", headers={**JSON, **_token(auth_manager, "op")})

    assert refused.status_code == 403
    assert refused.json()["airflow_status"] == 403
    assert tried.status_code == 400  # allowed: on to the body, which is refused
