"""The receiver reads the partner connection's secrets through the connection's settings model."""

from __future__ import annotations

import json
import logging

import pytest

from include.symphonics.webhooks.settings import WebhookConfigurationError, WebhookSettings

DSN = "dbname=sync"


def _connection(monkeypatch: pytest.MonkeyPatch, **extra: object) -> None:
    conn = {"conn_type": "symphonics", "host": "https://api.symphonics.fr", "login": "id", "password": "pw"}
    monkeypatch.setenv("AIRFLOW_CONN_SYMPHONICS_DEFAULT", json.dumps({**conn, "extra": extra}))


def test_a_rotation_in_the_connection_is_read_without_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _connection(monkeypatch, webhook_secret="new-webhook-secret", previous_webhook_secret="old-webhook-secret")
    with caplog.at_level(logging.WARNING):
        settings = WebhookSettings.from_environment({"SYMPHONICS_SYNC_DSN": DSN})
    assert [label for label, _ in settings.secrets()] == ["current", "previous"]
    assert (settings.secret, settings.previous_secret) == ("new-webhook-secret", "old-webhook-secret")
    assert "unknown extra" not in caplog.text


def test_the_environment_wins_over_the_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    _connection(monkeypatch, webhook_secret="from-the-connection", previous_webhook_secret="previous-from-conn")
    settings = WebhookSettings.from_environment(
        {"SYMPHONICS_SYNC_DSN": DSN, "SYMPHONICS_WEBHOOK_SECRET": "from-the-environment"}
    )
    assert (settings.secret, settings.previous_secret) == ("from-the-environment", None)


def test_a_null_previous_secret_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    _connection(monkeypatch, webhook_secret="current-webhook-secret", previous_webhook_secret=None)
    assert WebhookSettings.from_environment({"SYMPHONICS_SYNC_DSN": DSN}).previous_secret is None


def test_an_unknown_extra_is_one_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    _connection(monkeypatch, webhook_secret="current-webhook-secret", webhook_secrett="typo")
    with pytest.raises(
        WebhookConfigurationError, match=r"connection 'symphonics_default': unknown extra 'webhook_secrett'"
    ):
        WebhookSettings.from_environment({"SYMPHONICS_SYNC_DSN": DSN})
