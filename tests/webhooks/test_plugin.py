"""The api-server glue: the plugin imports without touching the database, and mounts the receiver."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.webhooks.conftest import SECRET, encode, rows, signed_headers, status_update

PLUGIN = Path(__file__).resolve().parents[2] / "plugins" / "symphonics_webhooks.py"


def load_plugin() -> ModuleType:
    spec = importlib.util.spec_from_file_location("symphonics_webhooks_under_test", PLUGIN)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_plugin_imports_without_touching_the_database_or_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg

    from include.symphonics.webhooks import settings

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("work at import")

    monkeypatch.setattr(psycopg, "connect", forbidden)
    monkeypatch.setattr(settings.WebhookSettings, "from_environment", classmethod(forbidden))
    module = load_plugin()
    [entry] = module.SymphonicsWebhooksPlugin.fastapi_apps
    assert entry["url_prefix"] == "/symphonics/webhooks"
    assert entry["name"] == "Symphonics webhooks"
    assert isinstance(entry["app"], FastAPI)
    assert entry["app"].state.receiver._runtime is None


def test_plugin_mounted_as_the_api_server_does(monkeypatch: pytest.MonkeyPatch, webhook_db: str) -> None:
    # The settings are read lazily, so the environment set after import is what the first request sees.
    module = load_plugin()
    monkeypatch.setenv("SYMPHONICS_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("SYMPHONICS_SYNC_DSN", webhook_db)
    api_server = FastAPI()
    for entry in module.SymphonicsWebhooksPlugin.fastapi_apps:  # as airflow.api_fastapi.app.init_plugins does
        api_server.mount(entry["url_prefix"], entry["app"])
    for entry in module.SymphonicsWebhooksPlugin.fastapi_root_middlewares:
        api_server.add_middleware(entry["middleware"], *entry["args"], **entry["kwargs"])
    with TestClient(api_server, follow_redirects=False) as client:
        for path, new_status in (("/symphonics/webhooks", "approved"), ("/symphonics/webhooks/", "rejected")):
            body = encode(status_update(new_status=new_status))
            response = client.post(path, content=body, headers=signed_headers(body))
            assert response.status_code == 200, (path, response.status_code)
        assert client.get("/symphonics/webhooks/health").status_code == 200
        assert client.post("/symphonics/webhooksX", content=b"{}").status_code == 404
    assert len(rows(webhook_db, "SELECT id FROM symphonics.webhook_events")) == 2
    module.SymphonicsWebhooksPlugin.fastapi_apps[0]["app"].state.receiver.close()


def test_airflow_loads_the_plugin() -> None:
    from airflow import plugins_manager

    plugins, _ = plugins_manager._get_plugins()
    names = {plugin.name for plugin in plugins}
    assert "symphonics_webhooks" in names, sys.modules.keys() & {"symphonics_webhooks"}
    apps, _middlewares = plugins_manager.get_fastapi_plugins()
    assert "/symphonics/webhooks" in {entry["url_prefix"] for entry in apps}


def test_real_api_server_serves_the_webhook_without_auth(monkeypatch: pytest.MonkeyPatch, webhook_db: str) -> None:
    from airflow.api_fastapi.app import create_app

    monkeypatch.setenv("SYMPHONICS_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("SYMPHONICS_SYNC_DSN", webhook_db)
    api_server = create_app()
    with TestClient(api_server, follow_redirects=False) as client:
        body = encode(status_update(intervention_id="sym_api_server"))
        response = client.post("/symphonics/webhooks", content=body, headers=signed_headers(body))
        assert response.status_code == 200, response.text
        forged = client.post("/symphonics/webhooks", content=body, headers=signed_headers(body, secret="forged"))
        assert forged.status_code == 401
    found = rows(webhook_db, "SELECT id FROM symphonics.webhook_events WHERE intervention_id = 'sym_api_server'")
    assert len(found) == 1
    # The api-server never closes its plugin apps; here it ends: write its refusal counts now, not later.
    from airflow import plugins_manager

    apps, _middlewares = plugins_manager.get_fastapi_plugins()
    for entry in apps:
        if entry["url_prefix"] == "/symphonics/webhooks":
            entry["app"].state.receiver.close()
