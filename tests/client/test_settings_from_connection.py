"""``settings_from_connection``: a Symphonics connection's fields into client settings (no server, no database)."""

from __future__ import annotations

import pytest

from include.symphonics.hook import settings_from_connection


def test_defaults_from_the_bare_minimum() -> None:
    settings = settings_from_connection("https://api.symphonics.fr", "client-id", "client-secret-value", {})
    assert (settings.base_url, settings.client_id, settings.client_secret) == (
        "https://api.symphonics.fr",
        "client-id",
        "client-secret-value",
    )
    assert (settings.requests_per_minute, settings.requests_per_day) == (100, 5000)
    assert (settings.max_retries, settings.read_timeout, settings.connect_timeout) == (5, 30.0, 5.0)
    assert settings.day_reset_utc == 0
    assert settings.verify is True
    assert settings.allow_insecure_http is False


@pytest.mark.parametrize(
    ("host", "schema", "port", "base_url"),
    [
        ("api.symphonics.fr", None, None, "https://api.symphonics.fr"),
        ("127.0.0.1", "http", 8099, "http://127.0.0.1:8099"),
        ("https://api.symphonics.fr/v1", "http", 8099, "https://api.symphonics.fr/v1"),  # a URL wins
    ],
)
def test_a_bare_host_takes_the_schema_and_port(host: str, schema: str | None, port: int | None, base_url: str) -> None:
    assert settings_from_connection(host, "id", "secret", {}, schema=schema, port=port).base_url == base_url


def test_extras_as_the_ui_stores_them_strings_included() -> None:
    settings = settings_from_connection(
        "https://api.symphonics.fr",
        "id",
        "secret",
        {
            "requests_per_minute": "90",
            "priority_shares": '{"publish": 0.6, "reconcile": 0.3}',
            "priority_reserves": {"ops": 0.05},
            "day_reset_utc": "02:30",
            "compress_requests": "yes",
            "allow_insecure_http": "false",
            "verify": "/etc/ssl/partner-ca.pem",
        },
    )
    assert settings.requests_per_minute == 90
    assert settings.priority_classes["publish"].share == 0.6
    assert settings.priority_classes["publish"].reserve == 0.0  # a class given a share keeps no default reserve
    assert settings.priority_classes["ops"].reserve == 0.05
    assert settings.day_reset_utc == 2 * 3600 + 30 * 60
    assert settings.compress_requests is True
    assert settings.allow_insecure_http is False
    assert settings.verify == "/etc/ssl/partner-ca.pem"
    assert settings_from_connection("h", "id", "secret", {"verify": "False"}).verify is False
    assert settings_from_connection("h", "id", "secret", {"day_reset_utc": 3600}).day_reset_utc == 3600.0


@pytest.mark.parametrize(
    ("host", "login", "password", "extra", "message"),
    [
        (None, "id", "secret", {}, "no host"),
        ("https://api.symphonics.fr", None, "secret", {}, "client id"),
        ("https://api.symphonics.fr", "id", "", {}, "client secret"),
        ("https://api.symphonics.fr", "id", "secret", {"priority_shares": "[0.5]"}, "priority_shares"),
    ],
)
def test_what_is_missing_or_malformed_is_named(
    host: str | None, login: str | None, password: str | None, extra: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        settings_from_connection(host, login, password, extra)
