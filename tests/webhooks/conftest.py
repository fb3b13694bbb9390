"""Fixtures of the webhook receiver's suite: its own migrated database, settings, an ASGI client, signed events."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from fastapi.testclient import TestClient
from psycopg.rows import dict_row

from include.symphonics.webhooks import WebhookSettings, create_webhook_app
from tests.fixtures.sandbox import REPO_ROOT, free_port, stop_process
from tests.fixtures.stack import TestStack

SECRET = "current-webhook-secret-for-tests"
PREVIOUS_SECRET = "previous-webhook-secret-for-tests"
RETIRED_SECRET = "retired-webhook-secret-for-tests"
# Per session (as the other test databases), so two sessions at once never share it; dropped with them.
WEBHOOK_DATABASE = f"symphonics_test_{os.getpid()}_webhooks"
TABLES = (
    "symphonics.webhook_rejections, symphonics.webhook_refusals, symphonics.status_poll_queue, "
    "symphonics.webhook_events"
)


def sign(body: bytes, secret: str = SECRET) -> str:
    """Sign as the partner does (independently of the receiver's code): hex HMAC-SHA256 of the body."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def iso(moment: datetime) -> str:
    """The document's timestamp format."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_update(
    intervention_id: str = "sym_87654321",
    *,
    age: float = 0.0,
    previous_status: str | None = "processing",
    new_status: str = "approved",
    **changes: Any,
) -> dict[str, Any]:
    """The document's status-update example, stamped ``age`` seconds ago (negative: ahead)."""
    data = {
        "intervention_id": intervention_id,
        "external_id": "int_12345678",
        "previous_status": previous_status,
        "new_status": new_status,
        "notes": "All documents verified successfully",
    }
    data.update(changes)
    moment = datetime.now(UTC) - timedelta(seconds=age)
    return {"event": "intervention.status_update", "timestamp": iso(moment), "data": data}


def document_verification(
    intervention_id: str = "sym_87654321", *, document_type: str = "attestation_honneur", age: float = 0.0
) -> dict[str, Any]:
    """The document's document-verification example, stamped ``age`` seconds ago."""
    data = {
        "intervention_id": intervention_id,
        "external_id": "int_12345678",
        "document_type": document_type,
        "verification_status": "verified",
        "notes": "Document verified successfully",
    }
    moment = datetime.now(UTC) - timedelta(seconds=age)
    return {"event": "document.verification", "timestamp": iso(moment), "data": data}


def encode(payload: Any) -> bytes:
    """Compact JSON, as the partner sends it."""
    return json.dumps(payload, separators=(",", ":")).encode()


def signed_headers(body: bytes, secret: str = SECRET, content_type: str = "application/json") -> dict[str, str]:
    """Headers of a correctly signed delivery."""
    return {"Content-Type": content_type, "X-Symphonics-Signature": sign(body, secret)}


@pytest.fixture(scope="session")
def webhook_dsn(stack: TestStack) -> str:
    """A database of this suite's own, at head (tests here empty its webhook tables at will)."""
    return stack.sync_database(WEBHOOK_DATABASE)


@pytest.fixture
def webhook_db(webhook_dsn: str) -> str:
    """The suite's database with empty webhook tables."""
    with psycopg.connect(webhook_dsn, autocommit=True) as conn:
        # CASCADE: later migrations reference webhook_events (this database is the suite's own).
        conn.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
    return webhook_dsn


@pytest.fixture
def settings(webhook_db: str) -> WebhookSettings:
    """Settings with a current and a previous secret, on the suite's database."""
    return WebhookSettings(secret=SECRET, previous_secret=PREVIOUS_SECRET, dsn=webhook_db)


@pytest.fixture
def client(settings: WebhookSettings) -> Iterator[TestClient]:
    """The receiver's ASGI app behind a test client (``POST /``)."""
    app = create_webhook_app(settings)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
    app.state.receiver.close()


def flush_refusals(client: TestClient) -> None:
    """Write the refusals the receiver counted in memory now (it does so every few seconds on its own)."""
    client.app.state.receiver.flush_refusals()  # type: ignore[attr-defined]


def rows(dsn: str, query: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Rows of a query, as dicts."""
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        return list(conn.execute(query, params))


@dataclass
class StandaloneReceiver:
    """``python -m include.symphonics.webhooks`` running as a subprocess on loopback."""

    url: str
    process: subprocess.Popen[bytes]
    stderr_path: Path

    def stderr(self) -> str:
        """What the server logged so far."""
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")


#: Seconds the stand-alone receiver may take to answer (or to exit with its error).
STARTUP_WAIT = 90.0


def start_standalone(dsn: str, workdir: Path, **env: str) -> StandaloneReceiver:
    """Start the stand-alone receiver on a free loopback port; return once ``/health`` answers 200."""
    port = free_port()
    stderr_path = workdir / f"webhooks-{port}.stderr"
    environ = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "SYMPHONICS_WEBHOOK_SECRET": SECRET,
        "SYMPHONICS_WEBHOOK_PREVIOUS_SECRET": PREVIOUS_SECRET,
        "SYMPHONICS_SYNC_DSN": dsn,
        **env,
    }
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "include.symphonics.webhooks", "--port", str(port), "--log-level", "info"],
            cwd=REPO_ROOT,
            env=environ,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    server = StandaloneReceiver(url=f"http://127.0.0.1:{port}", process=process, stderr_path=stderr_path)
    # Generous: importing Airflow's configuration alone takes several seconds on a loaded machine.
    deadline = time.monotonic() + STARTUP_WAIT
    with requests.Session() as session:
        session.trust_env = False
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the receiver exited with {process.returncode}:\n{server.stderr()}")
            with contextlib.suppress(requests.RequestException):
                if session.get(f"{server.url}/health", timeout=1).status_code == 200:
                    return server
            time.sleep(0.05)
    stop_standalone(server)
    raise RuntimeError(f"the receiver did not answer within {STARTUP_WAIT:.0f} s:\n{server.stderr()}")


def stop_standalone(server: StandaloneReceiver) -> None:
    """Terminate the receiver (SIGTERM, then SIGKILL if it lingers)."""
    stop_process(server.process)


@pytest.fixture
def standalone(webhook_db: str, tmp_path: Path) -> Iterator[StandaloneReceiver]:
    """The stand-alone receiver on the suite's (emptied) database."""
    server = start_standalone(webhook_db, tmp_path)
    try:
        yield server
    finally:
        stop_standalone(server)
