"""``create_app`` works in-process (TestClient), including the admin API and a dropped create."""

from __future__ import annotations

import warnings

import pytest

from include.symphonics_sandbox import SandboxConfig, create_app
from include.symphonics_sandbox.gateway import DroppedConnection
from tests.sandbox.documented_examples import create_request

with warnings.catch_warnings():
    # Starlette nudges towards httpx2 for its TestClient; the httpx one is what is installed.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

ADMIN_TOKEN = "in-process-admin-token"
# The admin API answers only a loopback Host with its token.
CLIENT = {"base_url": "http://127.0.0.1", "headers": {"X-Sandbox-Admin-Token": ADMIN_TOKEN}}

FORM = {
    "grant_type": "client_credentials",
    "client_id": "wfa-sandbox-demo",
    "client_secret": "sandbox-demo-secret-not-for-production",
}


def test_in_process_round_trip() -> None:
    with TestClient(create_app(SandboxConfig(admin_token=ADMIN_TOKEN)), **CLIENT) as client:
        token = client.post("/auth/token", data=FORM).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        created = client.post("/crm/interventions", json=create_request(), headers=headers)
        assert created.status_code == 201
        assert client.post("/_sandbox/tick", json={"steps": 2}).json() == {"transitions": 2}
        body = client.get(f"/crm/interventions/{created.json()['id']}", headers=headers).json()
        assert body["status"] == "approved"
        assert len(client.get("/_sandbox/calls").json()["calls"]) == 3


def test_in_process_drop_raises_to_the_caller() -> None:
    with TestClient(create_app(SandboxConfig(admin_token=ADMIN_TOKEN)), **CLIENT) as client:
        token = client.post("/auth/token", data=FORM).json()["access_token"]
        assert client.post("/_sandbox/faults", json={"kind": "drop_after_commit"}).status_code == 200
        with pytest.raises(DroppedConnection):
            client.post("/crm/interventions", json=create_request(), headers={"Authorization": f"Bearer {token}"})
        assert len(client.get("/_sandbox/interventions").json()["interventions"]) == 1


def test_config_changes_are_validated() -> None:
    with TestClient(create_app(SandboxConfig(admin_token=ADMIN_TOKEN)), **CLIENT) as client:
        for change in ({"conflict_mode": "loud"}, {"time_scale": 0}, {"port": 1}, {"nonsense": 1}):
            response = client.patch("/_sandbox/config", json=change)
            assert response.status_code == 422, change
            assert response.json()["error"]["code"] == "VALIDATION_ERROR"
        assert client.patch("/_sandbox/config", json={"time_scale": 60}).json()["time_scale"] == 60
        assert client.post("/_sandbox/reset", json={}).status_code == 200
        assert client.get("/_sandbox/config").json()["time_scale"] == 1
