"""The stand-alone receiver over real HTTP on loopback, and the sandbox delivering to it end to end."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.fixtures.sandbox import DEMO_WEBHOOK_SECRET, SandboxAdmin
from tests.sandbox.documented_examples import create_request
from tests.webhooks.conftest import (
    StandaloneReceiver,
    encode,
    rows,
    sign,
    signed_headers,
    start_standalone,
    status_update,
    stop_standalone,
)

pytestmark = pytest.mark.integration

EVENTS = "SELECT * FROM symphonics.webhook_events ORDER BY id"


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False  # loopback only
        yield session


def test_standalone_vectors_over_loopback(
    standalone: StandaloneReceiver, http: requests.Session, webhook_db: str
) -> None:
    body = encode(status_update())
    for path in ("/", "/symphonics/webhooks"):
        response = http.post(standalone.url + path, data=body, headers=signed_headers(body), timeout=10)
        assert response.status_code == 200
    assert len(rows(webhook_db, EVENTS)) == 1  # the second was the same event
    forged = http.post(standalone.url, data=body, headers=signed_headers(body, secret="forged"), timeout=10)
    assert forged.status_code == 401
    stale = encode(status_update(age=600))
    assert http.post(standalone.url, data=stale, headers=signed_headers(stale), timeout=10).status_code == 422
    assert len(rows(webhook_db, "SELECT * FROM symphonics.status_poll_queue")) == 1
    assert "bad_signature" in standalone.stderr()
    assert "current-webhook-secret" not in standalone.stderr()


def test_standalone_refuses_a_huge_declared_body_before_reading_it(standalone: StandaloneReceiver) -> None:
    # Declare 10 MB, send only the headers: the answer comes without waiting for (or reading) the body.
    host, port = standalone.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(
            b"POST / HTTP/1.1\r\nHost: receiver\r\nContent-Type: application/json\r\n"
            b"X-Symphonics-Signature: " + sign(b"x").encode() + b"\r\nContent-Length: 10000000\r\n\r\n"
        )
        answer = conn.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413 ")


def test_standalone_refuses_to_start_without_a_secret(webhook_db: str, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="no webhook secret"):
        start_standalone(
            webhook_db,
            tmp_path,
            SYMPHONICS_WEBHOOK_SECRET="",
            AIRFLOW_CONN_SYMPHONICS_DEFAULT='{"conn_type": "http", "host": "x"}',
        )


def test_sandbox_delivers_to_the_real_receiver(
    sandbox: SandboxAdmin,
    webhook_db: str,
    tmp_path: Path,
    http: requests.Session,
) -> None:
    receiver = start_standalone(webhook_db, tmp_path, SYMPHONICS_WEBHOOK_SECRET=DEMO_WEBHOOK_SECRET)
    try:
        sandbox.configure(webhook_url=f"{receiver.url}/symphonics/webhooks")
        token = sandbox.token()
        created = http.post(
            f"{sandbox.url}/crm/interventions",
            json=create_request("int_e2e"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert created.status_code == 201, created.text
        intervention_id = created.json()["id"]
        sandbox.settle()

        def all_delivered() -> bool:
            deliveries = sandbox.webhook_deliveries()
            return len(deliveries) >= 5 and all(d["outcome"] == "delivered" for d in deliveries)

        sandbox.wait_for(all_delivered, timeout=20)
        stored = rows(webhook_db, EVENTS)
        assert [e["event_type"] for e in stored] == [
            "intervention.status_update",
            "document.verification",
            "document.verification",
            "document.verification",
            "intervention.status_update",
        ]
        assert {e["intervention_id"] for e in stored} == {intervention_id}
        assert stored[-1]["new_status"] == "approved"

        # The sandbox's test variants: a redelivery is a 200 stored once; a forged one and an old replay are
        # refused, and the old replay is kept as late with a poll queued.
        sandbox.send_duplicate()
        sandbox.send_bad_signature()
        sandbox.send_replay(age_seconds=3600)
        sandbox.wait_for(lambda: len(sandbox.webhook_deliveries()) >= 8 and _settled(sandbox), timeout=20)
        outcomes = {d["kind"]: d["attempts"][0]["status_code"] for d in sandbox.webhook_deliveries()[5:]}
        assert outcomes == {"duplicate": 200, "bad_signature": 401, "replay": 422}
        assert len(rows(webhook_db, "SELECT id FROM symphonics.webhook_events WHERE NOT late")) == 5
        [late] = rows(webhook_db, "SELECT * FROM symphonics.webhook_events WHERE late")
        assert late["intervention_id"] == intervention_id
        [poll] = rows(webhook_db, "SELECT * FROM symphonics.status_poll_queue")
        assert poll["intervention_id"] == intervention_id
        assert poll["external_id"] == "int_e2e"
    finally:
        stop_standalone(receiver)


def _settled(sandbox: SandboxAdmin) -> bool:
    return all(d["attempts"] for d in sandbox.webhook_deliveries())
