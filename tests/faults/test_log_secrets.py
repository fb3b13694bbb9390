"""Scenario 9: a full demo run's logs hold no client secret, no token and no webhook secret."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.faults.audit import WAIT_LIMIT, issued_tokens, ledger_count, secret_hits, tally, wait_until
from tests.faults.conftest import ReliabilityCollector
from tests.fixtures.sandbox import SandboxProcess
from tests.publish.conftest import PublishWorld
from tests.reconcile.conftest import WebhookFeed


def _log_files(root: Path) -> list[str]:
    return [path.read_text(encoding="utf-8", errors="replace") for path in root.rglob("*") if path.is_file()]


def test_a_full_demo_run_logs_no_secret(
    fault_world: PublishWorld,
    publish_dag: Any,
    reconcile_dag: Any,
    sandbox_server: SandboxProcess,
    stack: Any,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    reliability: ReliabilityCollector,
) -> None:
    from fastapi.testclient import TestClient

    from include.symphonics.webhooks import WebhookSettings, create_webhook_app

    world = fault_world
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("SYMPHONICS_RECONCILE_POLL_AFTER_HOURS", "0")
    world.connect_sandbox(webhook_secret=world.sandbox.webhook_secret)
    world.sandbox.latency("crm.create_intervention", 0.005)
    tokens: set[str] = set()

    def revoke_mid_run() -> None:
        wait_until(lambda: ledger_count(world.sync_dsn, "published") >= 50, "50 published")
        tokens.update(issued_tokens(world.sync_dsn))
        world.sandbox.revoke_tokens()

    revoker = threading.Thread(target=revoke_mid_run, daemon=True)
    revoker.start()
    publish_run = publish_dag.test()
    revoker.join(timeout=WAIT_LIMIT)
    tokens.update(issued_tokens(world.sync_dsn))

    # The partner decides everything and its webhooks reach the real receiver (a forged and a stale one too).
    world.sandbox.settle()
    settings = WebhookSettings(secret=world.sandbox.webhook_secret, dsn=world.sync_dsn)
    server_errors = 0
    with TestClient(create_webhook_app(settings), raise_server_exceptions=True) as client:
        feed = WebhookFeed(client, world.sandbox.webhook_secret)
        events = world.sandbox.webhook_events()
        statuses = [feed.deliver(event["payload"]) for event in events]
        forged = WebhookFeed(client, "not-the-secret").deliver(events[0]["payload"])
        stale_payload = {**events[1]["payload"], "timestamp": "2020-01-01T00:00:00Z"}
        stale = feed.deliver(stale_payload)
        server_errors = sum(1 for status in [*statuses, forged, stale] if status >= 500)
    reconcile_run = reconcile_dag.test()
    tokens.update(issued_tokens(world.sync_dsn))
    tokens.add(world.sandbox.token())

    captured = capfd.readouterr()
    texts = [
        caplog.text,
        *(record.getMessage() for record in caplog.records),
        captured.out,
        captured.err,
        sandbox_server.stderr(),
        *_log_files(Path(stack.airflow_home) / "logs"),
    ]
    secrets = [world.sandbox.client_secret, world.sandbox.webhook_secret, *tokens]
    hits = secret_hits(texts, secrets)
    counted = tally(world)
    reliability.record(
        "9",
        "publish + webhooks + reconcile",
        faults=3,
        lost=counted.lost,
        duplicated=counted.duplicated,
        server_errors=server_errors,
        secrets=len(hits),
        note=f"{len(tokens)} tokens searched for",
    )
    assert publish_run.state == "success"
    assert reconcile_run.state == "success"
    assert not revoker.is_alive()
    # The logs were captured (a run logs its requests), and hold no secret.
    assert "Symphonics POST /crm/interventions" in caplog.text
    assert len(tokens) >= 3
    assert hits == []
    assert set(statuses) == {200}
    assert forged == 401
    assert stale == 422
    assert server_errors == 0
    assert counted.lost == 0
    assert counted.duplicated == 0
