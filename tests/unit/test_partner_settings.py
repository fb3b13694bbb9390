"""The settings model of the partner connection: defaults, precedence, and one clear error per bad value."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from include.symphonics.core.limits import REQUESTS_PER_DAY, REQUESTS_PER_MINUTE
from include.symphonics.core.quota_policy import PRIORITY_CLASSES, QuotaPolicy, default_classes
from include.symphonics.dashboard.settings import QuotaLimits
from include.symphonics.hook import FernetKeyError, fernet_or_clear_error
from include.symphonics.partner_settings import (
    EXTRAS,
    PartnerSettingsError,
    default_quota_policy,
    parse_extras,
    partner_settings,
)
from include.symphonics.webhooks.settings import PREVIOUS_SECRET_EXTRA, SECRET_EXTRA


def _settings(**extra: Any) -> Any:
    return partner_settings("https://api.symphonics.fr", "wfa-client", "client-secret-value", extra)


def test_defaults_are_the_partners_documented_limits_and_the_clients_classes() -> None:
    settings = _settings()
    client = settings.client_settings()

    assert (client.requests_per_minute, client.requests_per_day) == (REQUESTS_PER_MINUTE, REQUESTS_PER_DAY)
    assert (REQUESTS_PER_MINUTE, REQUESTS_PER_DAY) == (100, 5000)  # symphonics-api.md, "Rate limits"
    assert dict(client.priority_classes) == default_classes()
    assert client.day_reset_utc == 0.0
    assert (client.read_timeout, client.connect_timeout, client.max_retries) == (30.0, 5.0, 5)
    assert (client.compress_requests, client.allow_insecure_http, client.verify, client.time_scale) == (
        False,
        False,
        True,
        1.0,
    )
    assert settings.webhook_secret is None
    assert settings.previous_webhook_secret is None
    assert default_quota_policy() == QuotaPolicy(classes=default_classes())


def test_given_values_win_over_the_defaults_and_empty_ones_do_not() -> None:
    settings = _settings(
        requests_per_minute="90",
        requests_per_day=4000,
        priority_shares='{"publish": 0.6}',
        day_reset_utc="02:30",
        timeout=None,
        max_retries="",
        verify="/etc/ssl/partner-ca.pem",
        allow_insecure_http="true",
        time_scale=60,
    ).client_settings()

    assert (settings.requests_per_minute, settings.requests_per_day) == (90, 4000)
    assert settings.priority_classes["publish"].share == 0.6
    assert settings.priority_classes["reconcile"] == default_classes()["reconcile"]  # not named: its default
    assert settings.priority_classes["ops"] == default_classes()["ops"]
    assert settings.day_reset_utc == 9000.0
    assert (settings.read_timeout, settings.max_retries) == (30.0, 5)  # null and "" are "not set"
    assert settings.verify == "/etc/ssl/partner-ca.pem"
    assert settings.allow_insecure_http is True
    assert settings.quota_policy().minute_length == 1.0


def test_the_old_forms_prefixed_field_names_are_read_as_the_bare_ones() -> None:
    assert parse_extras({"extra__symphonics__requests_per_minute": 50})["requests_per_minute"] == 50


def test_a_bare_host_gets_the_schema_and_port() -> None:
    settings = partner_settings("sandbox.internal", "id", "secret", {}, schema="http", port=8099)
    assert settings.base_url == "http://sandbox.internal:8099"
    assert partner_settings("api.symphonics.fr", "id", "secret", {}).base_url == "https://api.symphonics.fr"


def test_the_port_field_completes_a_url_without_one_and_must_agree_with_one() -> None:
    assert partner_settings("https://api.symphonics.fr", "id", "s", {}, port=443).base_url == (
        "https://api.symphonics.fr:443"
    )
    assert partner_settings("http://127.0.0.1:8099", "id", "s", {}, port=8099).base_url == "http://127.0.0.1:8099"
    with pytest.raises(PartnerSettingsError, match=r"the Port field \(8100\) and the Base URL's port \(8099\) differ"):
        partner_settings("http://127.0.0.1:8099", "id", "s", {}, port=8100)


def test_a_class_not_named_keeps_its_default_reserve_and_zero_removes_it() -> None:
    classes = _settings(priority_reserves={"publish": 0.1}).client_settings().priority_classes
    assert (classes["publish"].reserve, classes["ops"].reserve) == (0.1, default_classes()["ops"].reserve)
    assert _settings(priority_reserves={"ops": 0}).client_settings().priority_classes["ops"].reserve == 0.0


@pytest.mark.parametrize(
    ("host", "login", "password", "message"),
    [
        (None, "id", "secret", "has no host: set Base URL"),
        ("https://api.symphonics.fr", "", "secret", "has no Client ID"),
        ("https://api.symphonics.fr", "id", None, "has no Client secret"),
    ],
)
def test_a_missing_field_is_named(host: str | None, login: str, password: str | None, message: str) -> None:
    with pytest.raises(PartnerSettingsError, match=message):
        partner_settings(host, login, password, {})


def test_an_unknown_extra_is_one_error_naming_it_and_the_known_ones() -> None:
    with pytest.raises(PartnerSettingsError) as raised:
        _settings(request_per_day=4000, webhook_secret="s")
    message = str(raised.value)
    assert message.startswith("unknown extra 'request_per_day' on the Symphonics connection")
    assert "requests_per_day" in message.split("known extras:")[1]


#: Every extra and a value of the wrong kind for it, with what the error must say.
BAD_VALUES: list[tuple[str, Any, str]] = [
    ("webhook_secret", 12345, "must be a string"),
    ("previous_webhook_secret", ["x"], "must be a string"),
    ("requests_per_minute", 0, "whole number of at least 1"),
    ("requests_per_minute", "ten", "must be a whole number"),
    ("requests_per_day", 99.5, "must be a whole number"),
    ("requests_per_day", True, "must be a whole number"),
    ("priority_shares", '{"publish": 1.5}', "'publish' must be a fraction between 0 and 1"),
    ("priority_shares", "[0.5]", "must be an object"),
    ("priority_shares", {"pubish": 0.5}, "unknown priority class 'pubish'"),
    ("priority_reserves", {"ops": 0.6, "publish": 0.6}, "reserves of the priority classes add up to more"),
    ("priority_reserves", {"ops": "a lot"}, "'ops' must be a fraction"),
    ("day_reset_utc", "25:00", 'must be a UTC time such as "02:00"'),
    ("day_reset_utc", 86_400, "must be a UTC time"),
    ("timeout", 0, "positive number of seconds"),
    ("connect_timeout", "-1", "positive number of seconds"),
    ("max_retries", -1, "whole number of at least 0"),
    ("backoff_base", "nan", "positive number of seconds"),
    ("max_quota_wait", False, "positive number of seconds"),
    ("breaker_failures", 0, "whole number of at least 1"),
    ("breaker_reset", "soon", "positive number of seconds"),
    ("compress_requests", "maybe", "must be true or false"),
    ("compress_threshold", -5, "whole number of at least 0"),
    ("allow_insecure_http", "sometimes", "must be true or false"),
    ("verify", 2, "must be true or false"),
    ("time_scale", 0, "must be a positive number"),
]


def test_every_extra_has_a_bad_value_case() -> None:
    assert {name for name, _, _ in BAD_VALUES} == set(EXTRAS)


@pytest.mark.parametrize(("name", "value", "message"), BAD_VALUES, ids=[f"{n}={v!r}" for n, v, _ in BAD_VALUES])
def test_a_bad_value_is_one_error_naming_the_extra(name: str, value: Any, message: str) -> None:
    with pytest.raises(PartnerSettingsError) as raised:
        _settings(**{name: value})
    assert name in str(raised.value)
    assert message in str(raised.value)


def test_a_bad_secret_is_not_echoed() -> None:
    with pytest.raises(PartnerSettingsError) as raised:
        _settings(webhook_secret=987654321)
    assert "987654321" not in str(raised.value)


def test_the_model_knows_the_webhook_receivers_extras() -> None:
    assert {SECRET_EXTRA, PREVIOUS_SECRET_EXTRA} <= set(EXTRAS)
    settings = _settings(webhook_secret="current-secret", previous_webhook_secret="previous-secret")
    assert (settings.webhook_secret, settings.previous_webhook_secret) == ("current-secret", "previous-secret")
    assert "current-secret" not in repr(settings)
    assert "client-secret-value" not in repr(settings)


def test_the_dashboard_uses_the_quotas_own_arithmetic_with_time_scale() -> None:
    policy = _settings(time_scale=60, day_reset_utc="01:00", requests_per_day=1000).quota_policy()
    limits = QuotaLimits.from_policy(policy)
    from datetime import UTC, datetime

    now = datetime(2026, 11, 28, 12, 0, 30, 500000, tzinfo=UTC)
    assert limits.day_start(now).timestamp() == policy.day_start(now.timestamp())
    assert limits.day_length.total_seconds() == 1440.0  # a 60x sandbox's day lasts 24 real minutes
    assert {name: limits.class_cap(name) for name in PRIORITY_CLASSES} == {
        name: policy.class_cap(name) for name in PRIORITY_CLASSES
    }
    assert QuotaLimits().policy() == default_quota_policy()


def test_a_template_fernet_key_is_one_error_saying_what_to_set(tmp_path: Any) -> None:
    # A fresh AIRFLOW_HOME without airflow.cfg: the Task SDK's config returns its template's "{FERNET_KEY}".
    script = (
        "from airflow.sdk.crypto import get_fernet\n"
        "from include.symphonics.hook import fernet_or_clear_error, FernetKeyError\n"
        "try:\n    fernet_or_clear_error(get_fernet)\n"
        "except FernetKeyError as exc:\n    print(exc)\n"
    )
    env = {
        key: value
        for key, value in __import__("os").environ.items()
        if key not in ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW_CONFIG")
    }
    env["AIRFLOW_HOME"] = str(tmp_path)
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert "set AIRFLOW__CORE__FERNET_KEY" in out.stdout, out.stderr[-2000:]
    assert "{FERNET_KEY}" in out.stdout

    def good() -> str:
        return "a fernet"

    assert fernet_or_clear_error(good) == "a fernet"

    def other_failure() -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        fernet_or_clear_error(other_failure)
    assert issubclass(FernetKeyError, RuntimeError)


def test_the_provider_info_labels_the_form_from_the_model_without_importing_the_client() -> None:
    script = (
        "import json, sys\n"
        "from include.symphonics.provider import get_provider_info\n"
        "info = get_provider_info()\n"
        "print(json.dumps({'info': info, 'client': 'include.symphonics.client' in sys.modules,"
        " 'airflow': 'airflow' in sys.modules}))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    result = json.loads(out.stdout)
    assert (result["client"], result["airflow"]) == (False, False)
    (conn_type,) = result["info"]["connection-types"]
    fields = conn_type["conn-fields"]
    assert {name: field["label"] for name, field in fields.items()} == {
        "webhook_secret": "Webhook secret",
        "previous_webhook_secret": "Previous webhook secret",
        "requests_per_minute": "Requests per minute",
        "requests_per_day": "Requests per day",
        "priority_shares": "Priority shares",
    }
    assert {name for name, field in fields.items() if field["schema"].get("format") == "password"} == {
        "webhook_secret",
        "previous_webhook_secret",
    }
    assert conn_type["ui-field-behaviour"]["relabeling"] == {
        "host": "Base URL",
        "login": "Client ID",
        "password": "Client secret",
    }
