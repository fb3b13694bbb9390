"""The settings model of the partner connection: one table of extras, one function that reads a connection.

The hook (the client's settings), the webhook receiver (the secrets) and the dashboard (the quota it compares
usage with) all read the Symphonics connection through :func:`partner_settings`, so an extra means the same
thing everywhere and an unknown extra or a bad value is one :class:`PartnerSettingsError` naming it.

Plain Python, importing neither Airflow nor the client at import time: the provider info
(:mod:`include.symphonics.provider`) is loaded by Airflow's provider discovery and labels its form fields
from :data:`EXTRAS`.

The connection (``conn_type`` ``symphonics``):

* host: base URL (``https://api.symphonics.fr``, ``https://sandbox-api.symphonics.fr``, the local sandbox);
  a bare host name gets ``https://`` (or the schema field's scheme) and the port field;
* login: client id; password: client secret;
* extra: the keys of :data:`EXTRAS` (``docs/CONFIGURATION.md`` lists them with their defaults).
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from include.symphonics.core.config import SettingError, parse_flag
from include.symphonics.core.limits import (
    PRIORITY_RESERVES,
    PRIORITY_SHARES,
    REQUESTS_PER_DAY,
    REQUESTS_PER_MINUTE,
)
from include.symphonics.core.quota_policy import MAX_QUOTA_WAIT, PRIORITY_CLASSES, ClassQuota, QuotaPolicy

if TYPE_CHECKING:
    from include.symphonics.client import ClientSettings

#: The Airflow connection of the partner API.
PARTNER_CONN_ID = "symphonics_default"
#: Its connection type (the provider's).
PARTNER_CONN_TYPE = "symphonics"
#: The prefix Airflow's older forms put before a connection type's own fields; read as the bare name.
_FORM_PREFIX = f"extra__{PARTNER_CONN_TYPE}__"


class PartnerSettingsError(ValueError):
    """The partner connection cannot be used as configured: the message names the field or extra, and why."""


def _positive_int(name: str, value: Any) -> int:
    number = _integer(name, value)
    if number < 1:
        raise PartnerSettingsError(f"extra {name!r} must be a whole number of at least 1, not {value!r}")
    return number


def _non_negative_int(name: str, value: Any) -> int:
    number = _integer(name, value)
    if number < 0:
        raise PartnerSettingsError(f"extra {name!r} must be a whole number of at least 0, not {value!r}")
    return number


def _integer(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise PartnerSettingsError(f"extra {name!r} must be a whole number, not {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise PartnerSettingsError(f"extra {name!r} must be a whole number, not {value!r}") from None
    if not number.is_integer():
        raise PartnerSettingsError(f"extra {name!r} must be a whole number, not {value!r}")
    return int(number)


def _positive_seconds(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise PartnerSettingsError(f"extra {name!r} must be a positive number of seconds, not {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not (math.isfinite(number) and number > 0):
        raise PartnerSettingsError(f"extra {name!r} must be a positive number of seconds, not {value!r}")
    return number


def _positive_number(name: str, value: Any) -> float:
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not (math.isfinite(number) and number > 0):
        raise PartnerSettingsError(f"extra {name!r} must be a positive number, not {value!r}")
    return number


def _flag(name: str, value: Any) -> bool:
    # The words of every on/off setting; a blank extra is no answer here (the key was written on purpose).
    if isinstance(value, bool) or str(value).strip():
        with contextlib.suppress(SettingError):
            return parse_flag(f"extra {name!r}", value, default=False)
    raise PartnerSettingsError(f"extra {name!r} must be true or false, not {value!r}")


def _secret(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise PartnerSettingsError(f"extra {name!r} must be a string")  # never echo a secret
    return value


def _fractions(name: str, value: Any) -> dict[str, float]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = None
    if not isinstance(value, Mapping):
        raise PartnerSettingsError(f'extra {name!r} must be an object such as {{"publish": 0.75}}, not {value!r}')
    fractions: dict[str, float] = {}
    for key, share in value.items():
        if key not in PRIORITY_CLASSES:
            raise PartnerSettingsError(
                f"extra {name!r}: unknown priority class {key!r}; use {', '.join(PRIORITY_CLASSES)}"
            )
        try:
            number = float(share) if not isinstance(share, bool) else math.nan
        except (TypeError, ValueError):
            number = math.nan
        if not 0.0 <= number <= 1.0:
            raise PartnerSettingsError(f"extra {name!r}: {key!r} must be a fraction between 0 and 1, not {share!r}")
        fractions[str(key)] = number
    return fractions


def _time_of_day(name: str, value: Any) -> float:
    """``"HH:MM"`` (UTC) or a number of seconds after midnight."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if 0 <= value < 86_400:
            return float(value)
    elif isinstance(value, str):
        hours, colon, minutes = value.strip().partition(":")
        if colon and hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60:
            return int(hours) * 3600.0 + int(minutes) * 60.0
    raise PartnerSettingsError(f'extra {name!r} must be a UTC time such as "02:00", not {value!r}')


def _verify(name: str, value: Any) -> bool | str:
    if isinstance(value, str) and value.strip().lower() not in ("true", "false", "1", "0", "yes", "no"):
        return value  # a CA bundle path
    return _flag(name, value)


@dataclass(frozen=True)
class Extra:
    """One extra of the partner connection.

    :param default: its value when the extra is absent or empty (``None``: none).
    :param parse: checks and converts a value given; raises :class:`PartnerSettingsError` naming the extra.
    :param label: the label of its field in the connection form.
    :param schema: the JSON schema of its form field.
    :param description: what it is for, shown under the form field.
    :param in_form: shown in the connection form (the others are set in the extra JSON).
    """

    default: Any
    parse: Callable[[str, Any], Any]
    label: str
    schema: Mapping[str, Any]
    description: str
    in_form: bool = True


_NUMBER = {"type": ["number", "null"]}
_INTEGER = {"type": ["integer", "null"]}
_BOOLEAN = {"type": ["boolean", "null"]}
_SECRET = {"type": ["string", "null"], "format": "password"}
_OBJECT_TEXT = {"type": ["string", "null"]}

#: Every extra a Symphonics connection understands, with its default: the one table.
EXTRAS: dict[str, Extra] = {
    "webhook_secret": Extra(
        None, _secret, "Webhook secret", _SECRET, "HMAC-SHA256 key of the partner's webhook signatures"
    ),
    "previous_webhook_secret": Extra(
        None,
        _secret,
        "Previous webhook secret",
        _SECRET,
        "The secret being rotated out, still accepted by the webhook receiver until removed",
    ),
    "requests_per_minute": Extra(
        REQUESTS_PER_MINUTE,
        _positive_int,
        "Requests per minute",
        _INTEGER,
        f"The partner's limit per minute (empty: its documented {REQUESTS_PER_MINUTE})",
    ),
    "requests_per_day": Extra(
        REQUESTS_PER_DAY,
        _positive_int,
        "Requests per day",
        _INTEGER,
        f"The partner's limit per day (empty: its documented {REQUESTS_PER_DAY})",
    ),
    "priority_shares": Extra(
        json.dumps(PRIORITY_SHARES),
        _fractions,
        "Priority shares",
        _OBJECT_TEXT,
        "Most of the day each class may use, a JSON object; a class not named keeps its default "
        f"{json.dumps(PRIORITY_SHARES)}",
    ),
    "priority_reserves": Extra(
        json.dumps(PRIORITY_RESERVES),
        _fractions,
        "Priority reserves",
        _OBJECT_TEXT,
        "Part of the day the other classes leave to a class, as a JSON object; a class not named keeps its default",
        in_form=False,
    ),
    "day_reset_utc": Extra(
        "00:00", _time_of_day, "Day reset (UTC)", _OBJECT_TEXT, "When the partner's day starts", in_form=False
    ),
    "timeout": Extra(30.0, _positive_seconds, "Read timeout (s)", _NUMBER, "", in_form=False),
    "connect_timeout": Extra(5.0, _positive_seconds, "Connect timeout (s)", _NUMBER, "", in_form=False),
    "max_retries": Extra(5, _non_negative_int, "Max retries", _INTEGER, "", in_form=False),
    "backoff_base": Extra(0.5, _positive_seconds, "First backoff (s)", _NUMBER, "", in_form=False),
    "max_quota_wait": Extra(
        MAX_QUOTA_WAIT,
        _positive_seconds,
        "Longest wait for the partner (s)",
        _NUMBER,
        "The most a run waits for the partner's Retry-After or rate-limit reset; a later one ends the run at once "
        "with the rest deferred",
        in_form=False,
    ),
    "breaker_failures": Extra(5, _positive_int, "Breaker failures", _INTEGER, "", in_form=False),
    "breaker_reset": Extra(60.0, _positive_seconds, "Breaker cool-down (s)", _NUMBER, "", in_form=False),
    "compress_requests": Extra(False, _flag, "Compress request bodies", _BOOLEAN, "", in_form=False),
    "compress_threshold": Extra(1024, _non_negative_int, "Compression threshold", _INTEGER, "", in_form=False),
    "allow_insecure_http": Extra(
        False, _flag, "Allow plain http://", _BOOLEAN, "Only for a sandbox inside a private network", in_form=False
    ),
    "verify": Extra(True, _verify, "TLS verification", _OBJECT_TEXT, "", in_form=False),
    "time_scale": Extra(1.0, _positive_number, "Time scale", _NUMBER, "A sandbox's time_scale", in_form=False),
}


def parse_extras(extra: Mapping[str, Any]) -> dict[str, Any]:
    """Every extra of :data:`EXTRAS`, checked, with the defaults filled in.

    An absent, ``null`` or empty value is the default (the connection form saves empty fields so).

    :param extra: the connection's extras.
    :raises PartnerSettingsError: for an unknown extra or a bad value, naming it.
    """
    given = {(key[len(_FORM_PREFIX) :] if key.startswith(_FORM_PREFIX) else key): value for key, value in extra.items()}
    unknown = sorted(set(given) - set(EXTRAS))
    if unknown:
        raise PartnerSettingsError(
            f"unknown extra {', '.join(repr(name) for name in unknown)} on the Symphonics connection; "
            f"known extras: {', '.join(EXTRAS)}"
        )
    values: dict[str, Any] = {}
    for name, spec in EXTRAS.items():
        value = given.get(name)
        if value is None or value == "":
            value = spec.default
        values[name] = None if value is None else spec.parse(name, value)
    return values


@dataclass(frozen=True)
class PartnerSettings:
    """What the partner connection configures, for the hook, the webhook receiver and the dashboard.

    The secrets are kept out of ``repr``. :meth:`client_settings` and :meth:`quota_policy` hand the values to
    the client's own types, so the quota arithmetic is the client's everywhere.
    """

    base_url: str
    client_id: str
    client_secret: str = field(repr=False)
    options: Mapping[str, Any] = field(repr=False)

    @property
    def webhook_secret(self) -> str | None:
        """The secret that signs the partner's webhooks."""
        return self.options["webhook_secret"]

    @property
    def previous_webhook_secret(self) -> str | None:
        """The webhook secret being rotated out."""
        return self.options["previous_webhook_secret"]

    def client_settings(self) -> ClientSettings:
        """The client's settings."""
        from include.symphonics.client import ClientSettings

        options = self.options
        return ClientSettings(
            base_url=self.base_url,
            client_id=self.client_id,
            client_secret=self.client_secret,
            requests_per_minute=options["requests_per_minute"],
            requests_per_day=options["requests_per_day"],
            priority_classes=_classes(options),
            day_reset_utc=options["day_reset_utc"],
            connect_timeout=options["connect_timeout"],
            read_timeout=options["timeout"],
            max_retries=options["max_retries"],
            backoff_base=options["backoff_base"],
            max_quota_wait=options["max_quota_wait"],
            breaker_failures=options["breaker_failures"],
            breaker_reset=options["breaker_reset"],
            compress_requests=options["compress_requests"],
            compress_threshold=options["compress_threshold"],
            allow_insecure_http=options["allow_insecure_http"],
            verify=options["verify"],
            time_scale=options["time_scale"],
        )

    def quota_policy(self) -> QuotaPolicy:
        """The quota the client enforces with these settings (built without importing the client)."""
        return _policy(self.options)


def default_quota_policy() -> QuotaPolicy:
    """The quota of a connection that sets no quota extra (what the dashboard shows without a connection)."""
    return _policy(parse_extras({}))


def _policy(options: Mapping[str, Any]) -> QuotaPolicy:
    return QuotaPolicy(
        requests_per_minute=options["requests_per_minute"],
        requests_per_day=options["requests_per_day"],
        classes=_classes(options),
        day_reset_utc=options["day_reset_utc"],
        max_wait=options["max_quota_wait"],
        time_scale=options["time_scale"],
    )


def _classes(options: Mapping[str, Any]) -> dict[str, Any]:
    """Each class's share and reserve: a class an extra does not name keeps its default."""
    shares = {**PRIORITY_SHARES, **options["priority_shares"]}
    reserves = {**PRIORITY_RESERVES, **options["priority_reserves"]}
    try:
        return {name: ClassQuota(share=shares[name], reserve=reserves.get(name, 0.0)) for name in PRIORITY_CLASSES}
    except ValueError as exc:
        raise PartnerSettingsError(f"extras 'priority_shares' / 'priority_reserves': {exc}") from None


def _base_url(host: str, schema: str | None, port: int | None) -> str:
    """The base URL of the connection's fields: a bare host name gets ``https://`` (or the schema field's scheme);
    the port field is the URL's port when the URL names none (Airflow's connection list tests a connection only
    with its port set), and must agree with it when it does."""
    if "://" not in host:
        return f"{schema or 'https'}://{host}{f':{port}' if port else ''}"
    if not port:
        return host
    parts = urlsplit(host)
    try:
        url_port = parts.port
    except ValueError:
        raise PartnerSettingsError(f"the Base URL {host!r} has a bad port") from None
    if url_port is None:
        return urlunsplit(parts._replace(netloc=f"{parts.netloc}:{port}"))
    if url_port != int(port):
        raise PartnerSettingsError(f"the Port field ({port}) and the Base URL's port ({url_port}) differ")
    return host


def partner_settings(
    host: str | None,
    login: str | None,
    password: str | None,
    extra: Mapping[str, Any],
    *,
    schema: str | None = None,
    port: int | None = None,
) -> PartnerSettings:
    """The settings of a Symphonics connection, from its fields: the one place a connection is read.

    :param host: base URL, or a bare host name.
    :param login: client id.
    :param password: client secret.
    :param extra: the connection's extras (:data:`EXTRAS`).
    :param schema: scheme of a bare host name (default ``https``).
    :param port: port of a bare host name.
    :raises PartnerSettingsError: a missing field, an unknown extra or a bad value, named.
    """
    if not host:
        raise PartnerSettingsError("the Symphonics connection has no host: set Base URL to the API's base URL")
    if not login:
        raise PartnerSettingsError("the Symphonics connection has no Client ID (login)")
    if not password:
        raise PartnerSettingsError("the Symphonics connection has no Client secret (password)")
    base_url = _base_url(host, schema, port)
    settings = PartnerSettings(base_url=base_url, client_id=login, client_secret=password, options=parse_extras(extra))
    try:
        settings.quota_policy()  # the reserves must fit in the day: say so now, not at the first call
    except PartnerSettingsError:
        raise
    except ValueError as exc:
        raise PartnerSettingsError(f"extras 'priority_shares' / 'priority_reserves': {exc}") from None
    return settings


def partner_settings_from_airflow(conn_id: str = PARTNER_CONN_ID) -> PartnerSettings:
    """:func:`partner_settings` of the Airflow connection ``conn_id`` (resolved through the secrets backends).

    :param conn_id: the Symphonics connection.
    :raises PartnerSettingsError: as :func:`partner_settings`, the message prefixed with the connection id.
    """
    from airflow.sdk import BaseHook  # resolved at call time, never at import

    conn = BaseHook.get_connection(conn_id)
    try:
        return partner_settings(
            conn.host, conn.login, conn.password, conn.extra_dejson, schema=conn.schema, port=conn.port
        )
    except PartnerSettingsError as exc:
        raise PartnerSettingsError(f"connection {conn_id!r}: {exc}") from None
