"""Configuration of the webhook receiver, read lazily: never at import, so plugins and tests import freely.

Secrets come from ``SYMPHONICS_WEBHOOK_SECRET`` / ``SYMPHONICS_WEBHOOK_PREVIOUS_SECRET`` or, when the first is
unset, from the extras ``webhook_secret`` / ``previous_webhook_secret`` of the Airflow connection
``symphonics_default``. The database is ``SYMPHONICS_SYNC_DSN`` or the Airflow connection ``sync_db``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from include.symphonics.core.config import SettingError, env_float, env_int
from include.symphonics.db import SYNC_CONN_ID
from include.symphonics.partner_settings import PARTNER_CONN_ID, PartnerSettingsError, parse_extras

SECRET_ENV = "SYMPHONICS_WEBHOOK_SECRET"  # noqa: S105 - the name of a variable, not a secret
PREVIOUS_SECRET_ENV = "SYMPHONICS_WEBHOOK_PREVIOUS_SECRET"  # noqa: S105 - idem
DSN_ENV = "SYMPHONICS_SYNC_DSN"
MAX_BODY_ENV = "SYMPHONICS_WEBHOOK_MAX_BODY_BYTES"
TOLERANCE_ENV = "SYMPHONICS_WEBHOOK_TOLERANCE_SECONDS"
POOL_SIZE_ENV = "SYMPHONICS_WEBHOOK_POOL_SIZE"
BODY_DEADLINE_ENV = "SYMPHONICS_WEBHOOK_BODY_DEADLINE_SECONDS"
HEADER_DEADLINE_ENV = "SYMPHONICS_WEBHOOK_HEADER_DEADLINE_SECONDS"
REFUSAL_LIMIT_ENV = "SYMPHONICS_WEBHOOK_REFUSAL_LIMIT"
REFUSAL_WINDOW_ENV = "SYMPHONICS_WEBHOOK_REFUSAL_WINDOW_SECONDS"
REFUSAL_FLUSH_ENV = "SYMPHONICS_WEBHOOK_REFUSAL_FLUSH_SECONDS"
SAMPLES_PER_SOURCE_ENV = "SYMPHONICS_WEBHOOK_SAMPLES_PER_SOURCE"
SAMPLES_PER_MINUTE_ENV = "SYMPHONICS_WEBHOOK_SAMPLES_PER_MINUTE"

SYMPHONICS_CONN_ID = PARTNER_CONN_ID
SECRET_EXTRA = "webhook_secret"  # noqa: S105 - an extra's key
PREVIOUS_SECRET_EXTRA = "previous_webhook_secret"  # noqa: S105 - idem

DEFAULT_MAX_BODY_BYTES = 64 * 1024
#: The document: "reject requests with timestamps older than 5 minutes"; the same bound applies ahead.
DEFAULT_TOLERANCE_SECONDS = 300.0
DEFAULT_POOL_SIZE = 8
#: A body not received in full this long after the headers is cut off (408): slow senders hold no socket forever.
DEFAULT_BODY_DEADLINE_SECONDS = 10.0
#: A request's headers not received in full this long after the connection opened (or the previous answer on a
#: kept-alive connection) close it (stand-alone receiver: ``webhooks/server.py``).
DEFAULT_HEADER_DEADLINE_SECONDS = 10.0
#: Refused requests a source may send per window before its refusals are answered 429.
DEFAULT_REFUSAL_LIMIT = 60
DEFAULT_REFUSAL_WINDOW_SECONDS = 60.0
#: How often counted refusals are written to the database.
DEFAULT_REFUSAL_FLUSH_SECONDS = 5.0
#: Refused requests kept as samples per minute, reason and source, and per minute in all.
DEFAULT_SAMPLES_PER_SOURCE = 3
DEFAULT_SAMPLES_PER_MINUTE = 100


class WebhookConfigurationError(RuntimeError):
    """The receiver cannot run: no secret, no database, or a setting that is not a number."""


@dataclass(frozen=True)
class WebhookSettings:
    """What the receiver needs. The secrets are kept out of ``repr`` so a logged settings object leaks nothing.

    :param secret: the current shared secret.
    :param dsn: libpq string or URL of the ``sync`` database.
    :param previous_secret: the secret being rotated out, accepted until it is removed.
    :param max_body_bytes: larger bodies are refused with 413 without being read.
    :param tolerance_seconds: how far an event's timestamp may be from now, either way.
    :param pool_size: database connections kept open.
    :param body_deadline_seconds: a body not read in full this long after the headers is answered 408.
    :param header_deadline_seconds: headers not received in full this long are answered 408, the connection closed
        (the stand-alone receiver; behind the api-server, the proxy's setting: docs/WEBHOOKS.md).
    :param refusal_limit: refused requests a source may send per ``refusal_window_seconds`` before 429.
    :param refusal_window_seconds: the window of ``refusal_limit``.
    :param refusal_flush_seconds: how often refusal counts and samples are written.
    :param samples_per_source: refused requests sampled per minute, reason and source.
    :param samples_per_minute: refused requests sampled per minute in all.
    """

    secret: str = field(repr=False)
    dsn: str = field(repr=False)
    previous_secret: str | None = field(default=None, repr=False)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS
    pool_size: int = DEFAULT_POOL_SIZE
    body_deadline_seconds: float = DEFAULT_BODY_DEADLINE_SECONDS
    header_deadline_seconds: float = DEFAULT_HEADER_DEADLINE_SECONDS
    refusal_limit: int = DEFAULT_REFUSAL_LIMIT
    refusal_window_seconds: float = DEFAULT_REFUSAL_WINDOW_SECONDS
    refusal_flush_seconds: float = DEFAULT_REFUSAL_FLUSH_SECONDS
    samples_per_source: int = DEFAULT_SAMPLES_PER_SOURCE
    samples_per_minute: int = DEFAULT_SAMPLES_PER_MINUTE

    def __post_init__(self) -> None:
        if not self.secret:
            raise WebhookConfigurationError("the webhook secret is empty")
        positive = {
            "max_body_bytes": self.max_body_bytes,
            "tolerance_seconds": self.tolerance_seconds,
            "pool_size": self.pool_size,
            "body_deadline_seconds": self.body_deadline_seconds,
            "header_deadline_seconds": self.header_deadline_seconds,
            "refusal_limit": self.refusal_limit,
            "refusal_window_seconds": self.refusal_window_seconds,
            "refusal_flush_seconds": self.refusal_flush_seconds,
        }
        not_positive = sorted(name for name, value in positive.items() if not value > 0)
        if not_positive:
            raise WebhookConfigurationError(f"{', '.join(not_positive)} must be positive")
        if self.samples_per_source < 0 or self.samples_per_minute < 0:
            raise WebhookConfigurationError("samples_per_source and samples_per_minute must not be negative")

    def secrets(self) -> list[tuple[str, bytes]]:
        """The secrets to try, labelled as stored in ``signature_secret_used``: current first."""
        labelled = [("current", self.secret.encode("utf-8"))]
        if self.previous_secret:
            labelled.append(("previous", self.previous_secret.encode("utf-8")))
        return labelled

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> WebhookSettings:
        """Read the settings from the environment, falling back on Airflow connections.

        :param environ: the variables to read (default: ``os.environ``).
        :raises WebhookConfigurationError: when no secret or no database is configured.
        """
        env = os.environ if environ is None else environ
        secret = env.get(SECRET_ENV) or None
        previous = env.get(PREVIOUS_SECRET_ENV) or None
        if secret is None:
            secret, previous = _secrets_from_connection(previous)
        dsn = env.get(DSN_ENV) or _dsn_from_connection()
        return cls(
            secret=secret,
            previous_secret=previous,
            dsn=dsn,
            max_body_bytes=_number(env, MAX_BODY_ENV, DEFAULT_MAX_BODY_BYTES, int),
            tolerance_seconds=_number(env, TOLERANCE_ENV, DEFAULT_TOLERANCE_SECONDS, float),
            pool_size=_number(env, POOL_SIZE_ENV, DEFAULT_POOL_SIZE, int),
            body_deadline_seconds=_number(env, BODY_DEADLINE_ENV, DEFAULT_BODY_DEADLINE_SECONDS, float),
            header_deadline_seconds=_number(env, HEADER_DEADLINE_ENV, DEFAULT_HEADER_DEADLINE_SECONDS, float),
            refusal_limit=_number(env, REFUSAL_LIMIT_ENV, DEFAULT_REFUSAL_LIMIT, int),
            refusal_window_seconds=_number(env, REFUSAL_WINDOW_ENV, DEFAULT_REFUSAL_WINDOW_SECONDS, float),
            refusal_flush_seconds=_number(env, REFUSAL_FLUSH_ENV, DEFAULT_REFUSAL_FLUSH_SECONDS, float),
            samples_per_source=_number(env, SAMPLES_PER_SOURCE_ENV, DEFAULT_SAMPLES_PER_SOURCE, int),
            samples_per_minute=_number(env, SAMPLES_PER_MINUTE_ENV, DEFAULT_SAMPLES_PER_MINUTE, int),
        )


def _number(env: Mapping[str, str], name: str, default: float, kind: Callable[[str], float]) -> Any:
    try:
        if kind is int:
            return env_int(name, int(default), environ=env)
        return env_float(name, default, environ=env)
    except SettingError as exc:
        raise WebhookConfigurationError(str(exc)) from None


def _secrets_from_connection(previous_from_env: str | None) -> tuple[str, str | None]:
    from airflow.sdk import BaseHook  # only when the environment has no secret

    try:
        raw_extra = BaseHook.get_connection(SYMPHONICS_CONN_ID).extra_dejson
    except Exception as exc:  # AirflowNotFoundException and backend errors alike
        raise WebhookConfigurationError(
            f"no webhook secret: set {SECRET_ENV}, or the extra {SECRET_EXTRA!r} of the connection "
            f"{SYMPHONICS_CONN_ID!r} ({type(exc).__name__})"
        ) from None
    try:
        extra = parse_extras(raw_extra)  # the settings model of the connection, as the hook reads it
    except PartnerSettingsError as exc:
        raise WebhookConfigurationError(f"connection {SYMPHONICS_CONN_ID!r}: {exc}") from None
    secret = extra[SECRET_EXTRA]
    if not isinstance(secret, str) or not secret:
        raise WebhookConfigurationError(
            f"no webhook secret: set {SECRET_ENV}, or the extra {SECRET_EXTRA!r} of the connection "
            f"{SYMPHONICS_CONN_ID!r}"
        )
    return secret, previous_from_env or extra[PREVIOUS_SECRET_EXTRA] or None


def _dsn_from_connection() -> str:
    from include.symphonics.db import dsn

    try:
        return dsn(SYNC_CONN_ID)
    except Exception as exc:
        raise WebhookConfigurationError(
            f"no sync database: set {DSN_ENV} or the Airflow connection {SYNC_CONN_ID!r} ({type(exc).__name__})"
        ) from None
