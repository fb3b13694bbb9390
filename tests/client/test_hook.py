"""``SymphonicsHook``: the client built from an Airflow connection given as an environment variable."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from airflow.sdk.module_loading import import_string

from include.symphonics.client import InsecureURLError, SymphonicsClient
from include.symphonics.hook import SymphonicsHook
from include.symphonics.partner_settings import PartnerSettingsError
from include.symphonics.provider import get_provider_info
from tests.client.conftest import api_calls
from tests.fixtures.sandbox import REPO_ROOT, SandboxAdmin

pytestmark = pytest.mark.integration


def _connection(monkeypatch: pytest.MonkeyPatch, host: str, secret: str, **extra: Any) -> None:
    conn = {
        "conn_type": "symphonics",
        "host": host,
        "login": "wfa-sandbox-demo",
        "password": secret,
        "extra": {"webhook_secret": "hook-test-webhook-secret", "backoff_base": 0.01, **extra},
    }
    monkeypatch.setenv("AIRFLOW_CONN_SYMPHONICS_DEFAULT", json.dumps(conn))


def test_client_from_the_connection(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxAdmin, clean_sync: str) -> None:
    _connection(monkeypatch, sandbox.url, sandbox.client_secret, requests_per_minute=90, max_retries=2)
    monkeypatch.setenv("AIRFLOW_CTX_DAG_ID", "symphonics_publish")
    monkeypatch.setenv("AIRFLOW_CTX_TASK_ID", "validate")
    monkeypatch.setenv("AIRFLOW_CTX_DAG_RUN_ID", "manual__1")
    hook = SymphonicsHook()
    try:
        client = hook.get_conn()
        assert isinstance(client, SymphonicsClient)
        assert hook.get_conn() is client
        assert client.base_url == sandbox.url
        assert client.settings.requests_per_minute == 90
        assert client.settings.requests_per_day == 5000
        assert client.settings.max_retries == 2
        assert not client.settings.compress_requests
        assert hook.webhook_secret == "hook-test-webhook-secret"

        assert hook.get_conn().validate_pdl("12345678901234", priority="reconcile").valid
        rows = api_calls(clean_sync)
        assert [(r["operation"], r["priority_class"]) for r in rows] == [
            ("obtain_token", "reconcile"),
            ("validate_pdl", "reconcile"),
        ]
        assert {(r["dag_id"], r["task_id"], r["run_id"]) for r in rows} == {
            ("symphonics_publish", "validate", "manual__1")
        }
    finally:
        hook.close()


def test_no_extra_is_sent_as_a_header(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxAdmin, clean_sync: str) -> None:
    _connection(monkeypatch, sandbox.url, sandbox.client_secret, previous_webhook_secret="old-webhook-secret")
    hook = SymphonicsHook()
    try:
        session_headers = {k.lower() for k in hook.get_conn().session.headers}
        assert "webhook_secret" not in session_headers
        assert "previous_webhook_secret" not in session_headers
        assert hook.get_conn().session.auth is None  # no basic auth over the bearer token
    finally:
        hook.close()


def test_an_unknown_extra_is_one_clear_error(monkeypatch: pytest.MonkeyPatch, clean_sync: str) -> None:
    _connection(monkeypatch, "https://api.symphonics.fr", "secret-value-1234", X_Custom="should-not-leave")
    hook = SymphonicsHook()
    with pytest.raises(PartnerSettingsError, match=r"connection 'symphonics_default': unknown extra 'X_Custom'"):
        hook.get_conn()
    ok, message = hook.test_connection()
    assert not ok
    assert message.startswith("Bad connection settings:")
    assert "'X_Custom'" in message


def test_test_connection(monkeypatch: pytest.MonkeyPatch, sandbox: SandboxAdmin, clean_sync: str) -> None:
    _connection(monkeypatch, sandbox.url, sandbox.client_secret)
    ok, message = SymphonicsHook().test_connection()
    assert ok, message
    assert sandbox.client_secret not in message
    assert [c["path"] for c in sandbox.calls()] == ["/auth/token"]


def test_test_connection_with_a_wrong_secret(
    monkeypatch: pytest.MonkeyPatch, sandbox: SandboxAdmin, clean_sync: str
) -> None:
    _connection(monkeypatch, sandbox.url, "a-wrong-client-secret")
    ok, message = SymphonicsHook().test_connection()
    assert not ok
    assert message == (
        f"Credentials refused by {sandbox.url}: the client id 'wfa-sandbox-demo' or the client secret is wrong "
        "(HTTP 401)"
    )
    assert [c["path"] for c in sandbox.calls()] == ["/auth/token"]  # one request, not retried


def test_plain_http_to_a_remote_host_is_refused(monkeypatch: pytest.MonkeyPatch, clean_sync: str) -> None:
    _connection(monkeypatch, "http://sandbox-api.symphonics.fr", "secret-value-1234")
    hook = SymphonicsHook()
    with pytest.raises(InsecureURLError, match="HTTPS only"):
        hook.get_conn()
    ok, message = hook.test_connection()
    assert not ok
    assert message.startswith("Refused URL: refusing plain http:// to sandbox-api.symphonics.fr")


def test_plain_http_allowed_by_the_connection(monkeypatch: pytest.MonkeyPatch, clean_sync: str) -> None:
    _connection(monkeypatch, "http://sandbox:8099", "secret-value-1234", allow_insecure_http="true")
    hook = SymphonicsHook()
    try:
        assert hook.get_conn().base_url == "http://sandbox:8099"
    finally:
        hook.close()


def test_a_bare_host_gets_https(monkeypatch: pytest.MonkeyPatch, clean_sync: str) -> None:
    _connection(monkeypatch, "sandbox-api.symphonics.fr", "secret-value-1234")
    hook = SymphonicsHook()
    try:
        assert hook.get_conn().base_url == "https://sandbox-api.symphonics.fr"
    finally:
        hook.close()


def test_priority_shares_from_the_extras(monkeypatch: pytest.MonkeyPatch, clean_sync: str) -> None:
    _connection(
        monkeypatch,
        "https://api.symphonics.fr",
        "secret-value-1234",
        priority_shares={"publish": 0.6, "reconcile": 0.3},
        priority_reserves={"ops": 0.05},
        day_reset_utc="02:00",
    )
    settings = SymphonicsHook().settings
    assert settings.priority_classes["publish"].share == 0.6
    assert settings.priority_classes["reconcile"].share == 0.3
    assert settings.priority_classes["ops"].reserve == 0.05
    assert settings.day_reset_utc == 7200


def test_the_provider_and_the_project_settings_name_this_hook() -> None:
    [connection_type] = get_provider_info()["connection-types"]
    assert import_string(connection_type["hook-class-name"]) is SymphonicsHook
    assert connection_type["connection-type"] == SymphonicsHook.conn_type
    declared = yaml.safe_load((REPO_ROOT / "airflow_settings.yaml").read_text(encoding="utf-8"))
    types = {conn["conn_id"]: conn["conn_type"] for conn in declared["airflow"]["connections"]}
    assert types[SymphonicsHook.default_conn_name] == SymphonicsHook.conn_type
    # The form is declared as data in the provider info: the deprecated Python hooks for it are gone.
    assert "get_ui_field_behaviour" not in SymphonicsHook.__dict__
    assert "get_connection_form_widgets" not in SymphonicsHook.__dict__
