"""``SymphonicsHook``: the Airflow adapter of the Symphonics client, as thin as the providers' hooks.

The hook reads an Airflow connection and builds, once, a :class:`~include.symphonics.client.SymphonicsClient`
whose quota, shared token and call log live in the ``sync`` database and whose guard reads the kill switch
(the Airflow Variable ``symphonics_kill_switch``) at call time. Callers use that client from :meth:`get_conn`;
the hook adds only what Airflow needs: the connection, the Variable and :meth:`test_connection`.

It does not extend ``HttpHook``, on purpose: with a login on the connection ``HttpHook`` installs basic auth
over any ``Authorization`` header (our bearer token), and it sends every unknown extra as an HTTP header (our
``webhook_secret`` would go to the partner). Its retries also see a 429 only as a generic exception. What it
offers that serves here, the session settings in the extras (``verify``), is read the same way by name.

Connection (``conn_type`` ``symphonics``, a type of its own so nobody points an ``HttpOperator`` at it):

* host: base URL (``https://api.symphonics.fr``, ``https://sandbox-api.symphonics.fr``, the local sandbox);
  a bare host name gets ``https://`` (or the schema field's scheme) and the port field;
* login: client id; password: client secret;
* extra: see :data:`EXTRA_DEFAULTS` and ``docs/CLIENT.md``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import cached_property
from typing import Any

from airflow.sdk import BaseHook

from include.symphonics.client import (
    OPS,
    CallGuard,
    ClassQuota,
    ClientSettings,
    KillSwitchOn,
    RunBudget,
    RunContext,
    SymphonicsClient,
)
from include.symphonics.client.guard import DEFAULT_KILL_SWITCH_TTL
from include.symphonics.client.ratelimit import PRIORITY_CLASSES, default_classes
from include.symphonics.client.redaction import redact
from include.symphonics.metrics import AirflowStats

#: The Airflow Variable that stops every partner call when ``on``.
KILL_SWITCH_VARIABLE = "symphonics_kill_switch"
#: The Variable's values that mean "on".
_ON = ("on", "true", "1", "yes")

#: The extras a Symphonics connection understands, with their defaults. Anything else is ignored (with a
#: warning), never sent as a header.
EXTRA_DEFAULTS: dict[str, Any] = {
    "webhook_secret": None,
    "requests_per_minute": 100,
    "requests_per_day": 5000,
    "priority_shares": {name: quota.share for name, quota in default_classes().items()},
    "priority_reserves": {name: quota.reserve for name, quota in default_classes().items() if quota.reserve},
    "day_reset_utc": "00:00",
    "timeout": 30.0,
    "connect_timeout": 5.0,
    "max_retries": 5,
    "backoff_base": 0.5,
    "retry_after_cap": 60.0,
    "breaker_failures": 5,
    "breaker_reset": 60.0,
    "compress_requests": False,
    "compress_threshold": 1024,
    "allow_insecure_http": False,
    "verify": True,
    "time_scale": 1.0,
}


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _mapping(value: Any, name: str) -> dict[str, float]:
    if isinstance(value, str):
        value = json.loads(value) if value.strip() else {}
    if not isinstance(value, Mapping):
        raise ValueError(f'extra {name!r} must be an object such as {{"publish": 0.75}}')
    return {str(key): float(share) for key, share in value.items()}


def _seconds_after_midnight(value: Any) -> float:
    """``"HH:MM"`` (UTC) or a number of seconds."""
    if isinstance(value, int | float):
        return float(value)
    hours, _, minutes = str(value).partition(":")
    return int(hours) * 3600 + int(minutes or 0) * 60


def settings_from_connection(
    host: str | None,
    login: str | None,
    password: str | None,
    extra: Mapping[str, Any],
    *,
    schema: str | None = None,
    port: int | None = None,
) -> ClientSettings:
    """Client settings from the fields of a Symphonics connection.

    :param host: base URL, or a bare host name.
    :param login: client id.
    :param password: client secret.
    :param extra: the connection's extras.
    :param schema: scheme of a bare host name (default ``https``).
    :param port: port of a bare host name.
    :raises ValueError: when the client id, secret or host is missing, or an extra is malformed.
    """
    if not host:
        raise ValueError("the Symphonics connection has no host: set it to the API base URL")
    if not login or not password:
        raise ValueError("the Symphonics connection needs the client id (login) and client secret (password)")
    bare_host_url = f"{schema or 'https'}://{host}{f':{port}' if port else ''}"
    base_url = host if "://" in host else bare_host_url
    options = {**EXTRA_DEFAULTS, **extra}
    shares = _mapping(options["priority_shares"], "priority_shares")
    reserves = _mapping(options["priority_reserves"], "priority_reserves")
    defaults = default_classes()
    classes = {
        name: ClassQuota(
            share=shares.get(name, defaults[name].share),
            reserve=reserves.get(name, defaults[name].reserve if name not in shares else 0.0),
        )
        for name in PRIORITY_CLASSES
    }
    verify = options["verify"]
    return ClientSettings(
        base_url=base_url,
        client_id=login,
        client_secret=password,
        requests_per_minute=int(options["requests_per_minute"]),
        requests_per_day=int(options["requests_per_day"]),
        priority_classes=classes,
        day_reset_utc=_seconds_after_midnight(options["day_reset_utc"]),
        connect_timeout=float(options["connect_timeout"]),
        read_timeout=float(options["timeout"]),
        max_retries=int(options["max_retries"]),
        backoff_base=float(options["backoff_base"]),
        retry_after_cap=float(options["retry_after_cap"]),
        breaker_failures=int(options["breaker_failures"]),
        breaker_reset=float(options["breaker_reset"]),
        compress_requests=_flag(options["compress_requests"]),
        compress_threshold=int(options["compress_threshold"]),
        allow_insecure_http=_flag(options["allow_insecure_http"]),
        verify=verify if isinstance(verify, str) and verify.lower() not in ("true", "false") else _flag(verify),
        time_scale=float(options["time_scale"]),
    )


def _run_context_from_environment() -> RunContext:
    # The task runner exports the running task's identity as AIRFLOW_CTX_* variables.
    return RunContext(
        dag_id=os.environ.get("AIRFLOW_CTX_DAG_ID"),
        task_id=os.environ.get("AIRFLOW_CTX_TASK_ID"),
        run_id=os.environ.get("AIRFLOW_CTX_DAG_RUN_ID"),
    )


class SymphonicsHook(BaseHook):
    """The Symphonics client of a connection, with one shared quota, token and call log, and the kill switch.

    :param symphonics_conn_id: the Symphonics connection.
    :param sync_conn_id: the connection of the ``sync`` database holding the shared state.
    :param budget: the calling run's call budget, if it has one.
    :param kill_switch_ttl: seconds a reading of the kill switch is trusted (default
        :data:`DEFAULT_KILL_SWITCH_TTL`, 5 s).
    """

    conn_name_attr = "symphonics_conn_id"
    default_conn_name = "symphonics_default"
    conn_type = "symphonics"
    hook_name = "Symphonics"

    def __init__(
        self,
        symphonics_conn_id: str = default_conn_name,
        *,
        sync_conn_id: str = "sync_db",
        budget: RunBudget | None = None,
        kill_switch_ttl: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.symphonics_conn_id = symphonics_conn_id
        self.sync_conn_id = sync_conn_id
        ttl = DEFAULT_KILL_SWITCH_TTL if kill_switch_ttl is None else kill_switch_ttl
        self.guard = CallGuard(self.read_kill_switch, kill_switch_ttl=ttl, budget=budget)

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Labels of the connection form: what each standard field means for Symphonics."""
        return {
            "hidden_fields": ["schema", "port"],
            "relabeling": {"host": "Base URL", "login": "Client ID", "password": "Client secret"},
            "placeholders": {
                "host": "https://api.symphonics.fr",
                "login": "wfa-client-id",
                "extra": json.dumps({"requests_per_minute": 100, "requests_per_day": 5000}),
            },
        }

    @cached_property
    def settings(self) -> ClientSettings:
        """The client settings of the connection."""
        conn = self.get_connection(self.symphonics_conn_id)
        extra = dict(conn.extra_dejson)
        unknown = sorted(set(extra) - set(EXTRA_DEFAULTS))
        if unknown:
            self.log.warning("Symphonics connection %s: ignoring unknown extras %s", self.symphonics_conn_id, unknown)
        return settings_from_connection(conn.host, conn.login, conn.password, extra, schema=conn.schema, port=conn.port)

    @property
    def webhook_secret(self) -> str | None:
        """The secret that signs the partner's webhooks (for the webhook receiver)."""
        value = self.get_connection(self.symphonics_conn_id).extra_dejson.get("webhook_secret")
        return None if value is None else str(value)

    @staticmethod
    def read_kill_switch() -> bool:
        """Whether ops turned the kill switch on (Variable ``symphonics_kill_switch`` = ``on``), read now."""
        from airflow.sdk import Variable

        # No "off" default: Airflow masks a missing Variable's default and warns when it is under 5 characters.
        value = Variable.get(KILL_SWITCH_VARIABLE, default=None)
        return str(value or "").strip().lower() in _ON

    def kill_switch_on(self) -> bool:
        """The kill switch as the client's guard sees it (read at most every ``kill_switch_ttl`` seconds)."""
        return self.guard.kill_switch_on()

    def _cipher(self) -> Any:
        from airflow.sdk.crypto import get_fernet

        fernet = get_fernet()
        if not fernet.is_encrypted:
            # Without a Fernet key the token would sit in clear text: keep it in this process instead.
            self.log.warning("no Fernet key configured: the Symphonics token is not shared between processes")
            return None
        return fernet

    def get_conn(self) -> SymphonicsClient:
        """The client of this connection, built once per hook."""
        return self._client

    @cached_property
    def _client(self) -> SymphonicsClient:
        from include.symphonics.db import dsn

        return SymphonicsClient.with_shared_state(
            self.settings,
            dsn(self.sync_conn_id),
            self._cipher(),
            run_context=_run_context_from_environment,
            guard=self.guard,
            metrics=AirflowStats(),
        )

    def close(self) -> None:
        """Close the client's session and database connections, if it was built."""
        if "_client" in self.__dict__:
            self._client.close()
            del self.__dict__["_client"]

    def test_connection(self) -> tuple[bool, str]:
        """Obtain a new token with the connection's URL and credentials (one request, class ``ops``).

        With the kill switch on nothing is sent and the answer says so.
        """
        try:
            client = self.get_conn()
            client.check_credentials(priority=OPS)
        except KillSwitchOn:
            return False, f"kill switch on ({KILL_SWITCH_VARIABLE}): the partner was not contacted"
        except Exception as exc:
            # Whatever failed (a refused URL, bad credentials, the partner or the sync database) is reported,
            # redacted, to the person testing the connection.
            return False, redact(f"{type(exc).__name__}: {exc}")
        return True, f"Connected to {client.base_url} as {client.settings.client_id}: a token was obtained"


def get_provider_info() -> dict[str, Any]:
    """Provider metadata, for an ``apache_airflow_provider`` entry point registering the ``symphonics`` type.

    Ops then see labelled fields in the connection form (after an api-server restart).
    """
    number = {"type": ["number", "null"]}
    boolean = {"type": ["boolean", "null"]}
    return {
        "package-name": "symphonics-sync",
        "name": "Symphonics",
        "description": "The Symphonics partner API (local provider of this project).",
        "versions": ["0.1.0"],
        "connection-types": [
            {
                "hook-class-name": "include.symphonics.hook.SymphonicsHook",
                "hook-name": SymphonicsHook.hook_name,
                "connection-type": SymphonicsHook.conn_type,
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port"],
                    "relabeling": {"host": "Base URL", "login": "Client ID", "password": "Client secret"},
                    "placeholders": {"host": "https://api.symphonics.fr"},
                },
                "conn-fields": {
                    "webhook_secret": {
                        "label": "Webhook secret",
                        "schema": {"type": ["string", "null"], "format": "password"},
                        "description": "HMAC-SHA256 key of the partner's webhook signatures",
                    },
                    "requests_per_minute": {"label": "Requests per minute", "schema": number},
                    "requests_per_day": {"label": "Requests per day", "schema": number},
                    "timeout": {"label": "Read timeout (s)", "schema": number},
                    "max_retries": {"label": "Max retries", "schema": number},
                    "compress_requests": {"label": "Compress request bodies", "schema": boolean},
                    "allow_insecure_http": {
                        "label": "Allow plain http:// (private network)",
                        "schema": boolean,
                    },
                },
            }
        ],
    }
