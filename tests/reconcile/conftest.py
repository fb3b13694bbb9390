"""Fixtures of the reconciliation's tests: the publish world (seeded app, sandbox, ledger), the webhook receiver
fed with the sandbox's events, and the reconcile DAG."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.publish.conftest import *  # noqa: F403
from tests.publish.conftest import PublishWorld

#: The tables the reconciliation writes or reads besides the publish pipeline's (emptied before each test).
RECONCILE_TABLES = (
    "symphonics.status_history",
    "symphonics.intervention_sync_state",
    "symphonics.app_interventions_copy",
    "symphonics.alerts",
    "symphonics.watchdog_marks",
    "analytics.snapshot_changes",
    "analytics.snapshot_builds",
    "symphonics.webhook_rejections",
    "symphonics.webhook_refusals",
    "symphonics.status_poll_queue",
    "symphonics.webhook_events",
)


def clean_reconcile_tables(sync_dsn: str) -> None:
    """Empty every table of the reconciliation and of the webhook receiver."""
    with psycopg.connect(sync_dsn) as conn:
        conn.execute(f"TRUNCATE {', '.join(RECONCILE_TABLES)}")


@pytest.fixture
def reconcile_dag() -> Any:
    """The ``symphonics_reconcile`` DAG, parsed from its file for each test: ``dag.test(run_conf=...)`` leaves the
    run's conf in the DAG object's params, which the next test's run would otherwise inherit."""
    from airflow.dag_processing.dagbag import DagBag

    from tests.dags.test_dag_integrity import DAGS_DIR

    bag = DagBag(dag_folder=str(DAGS_DIR / "symphonics_reconcile.py"))
    assert bag.import_errors == {}
    return bag.dags["symphonics_reconcile"]


class WebhookFeed:
    """Delivers the sandbox's events to the real receiver (in process), signed as the partner signs them.

    :param client: a test client of the receiver.
    :param secret: the sandbox's webhook secret.
    """

    def __init__(self, client: TestClient, secret: str) -> None:
        self.client = client
        self.secret = secret

    def deliver(self, payload: dict[str, Any]) -> int:
        """POST one event; returns the HTTP status."""
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        signature = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        response = self.client.post(
            "/", content=body, headers={"Content-Type": "application/json", "X-Symphonics-Signature": signature}
        )
        return response.status_code

    def deliver_all(self, events: list[dict[str, Any]], *, skip: frozenset[str] = frozenset()) -> int:
        """Deliver the sandbox's events (``GET /_sandbox/webhooks/events``) except those about ``skip`` ids."""
        delivered = 0
        for event in events:
            if event["intervention_id"] in skip:
                continue
            assert self.deliver(event["payload"]) == 200
            delivered += 1
        return delivered


@pytest.fixture
def reconcile_world(world: PublishWorld) -> PublishWorld:
    """The publish world with empty reconciliation tables."""
    clean_reconcile_tables(world.sync_dsn)
    return world


@pytest.fixture
def webhook_feed(reconcile_world: PublishWorld) -> Iterator[WebhookFeed]:
    """The real receiver on the test sync database, fed by the test."""
    from include.symphonics.webhooks import WebhookSettings, create_webhook_app

    settings = WebhookSettings(secret=reconcile_world.sandbox.webhook_secret, dsn=reconcile_world.sync_dsn)
    with TestClient(create_webhook_app(settings), raise_server_exceptions=True) as client:
        yield WebhookFeed(client, reconcile_world.sandbox.webhook_secret)
