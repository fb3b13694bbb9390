"""The partner document's webhook URL path, ``/api/webhooks/symphonics``, is served by the stand-alone receiver."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from include.symphonics.webhooks import WebhookSettings, create_webhook_app
from include.symphonics.webhooks.__main__ import STANDALONE_PATHS
from tests.webhooks.conftest import encode, rows, signed_headers, status_update

pytestmark = pytest.mark.integration


def test_the_documented_webhook_path_is_an_alias_of_the_receiver(settings: WebhookSettings, webhook_db: str) -> None:
    assert "/api/webhooks/symphonics" in STANDALONE_PATHS
    with TestClient(create_webhook_app(settings, paths=STANDALONE_PATHS), follow_redirects=False) as client:
        body = encode(status_update(new_status="approved"))
        assert client.post("/api/webhooks/symphonics", content=body, headers=signed_headers(body)).status_code == 200
        assert client.post("/api/webhooks/other", content=body, headers=signed_headers(body)).status_code == 404
        client.app.state.receiver.close()  # type: ignore[attr-defined]
    assert len(rows(webhook_db, "SELECT id FROM symphonics.webhook_events")) == 1
