"""``SymphonicsHook``: the Airflow adapter of the Symphonics client, as thin as the providers' hooks.

The hook reads an Airflow connection and builds, once, a :class:`~include.symphonics.client.SymphonicsClient`
whose quota, shared token and call log live in the ``sync`` database and whose guard reads the kill switch
(the Airflow Variable ``symphonics_kill_switch``) at call time. Callers use that client from :meth:`get_conn`;
the hook adds only what Airflow needs: the connection, the Variable and :meth:`test_connection`.

It does not extend ``HttpHook``, on purpose: with a login on the connection ``HttpHook`` installs basic auth
over any ``Authorization`` header (our bearer token), and it sends every unknown extra as an HTTP header (our
``webhook_secret`` would go to the partner). Its retries also see a 429 only as a generic exception. What it
offers that serves here, the session settings in the extras (``verify``), is read the same way by name.

The connection (``conn_type`` ``symphonics``, a type of its own so nobody points an ``HttpOperator`` at it)
is read by :func:`~include.symphonics.partner_settings.partner_settings`, the settings model shared with the
webhook receiver and the dashboard; its form is declared by the provider info
(:mod:`include.symphonics.provider`).
"""

from __future__ import annotations

import os
from functools import cached_property
from typing import Any

from airflow.sdk import BaseHook

from include.symphonics.client import (
    OPS,
    CallGuard,
    ClientSettings,
    KillSwitchOn,
    RunBudget,
    RunContext,
    SymphonicsClient,
)
from include.symphonics.client.errors import (
    InsecureURLError,
    QuotaBusy,
    QuotaExhausted,
    SymphonicsAuthError,
    SymphonicsRateLimited,
    SymphonicsUnavailable,
)
from include.symphonics.client.guard import DEFAULT_KILL_SWITCH_TTL
from include.symphonics.core import config
from include.symphonics.core.redaction import redact
from include.symphonics.core.stats import AirflowStats
from include.symphonics.db import SYNC_CONN_ID
from include.symphonics.partner_settings import (
    PARTNER_CONN_ID,
    PARTNER_CONN_TYPE,
    PartnerSettings,
    PartnerSettingsError,
    partner_settings,
)

#: The Airflow Variable that stops every partner call when ``on``.
KILL_SWITCH_VARIABLE = "symphonics_kill_switch"


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
    default_conn_name = PARTNER_CONN_ID
    conn_type = PARTNER_CONN_TYPE
    hook_name = "Symphonics"

    def __init__(
        self,
        symphonics_conn_id: str = default_conn_name,
        *,
        sync_conn_id: str = SYNC_CONN_ID,
        budget: RunBudget | None = None,
        kill_switch_ttl: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.symphonics_conn_id = symphonics_conn_id
        self.sync_conn_id = sync_conn_id
        ttl = DEFAULT_KILL_SWITCH_TTL if kill_switch_ttl is None else kill_switch_ttl
        self.guard = CallGuard(self.read_kill_switch, kill_switch_ttl=ttl, budget=budget)

    @cached_property
    def partner_settings(self) -> PartnerSettings:
        """The connection read by the settings model.

        :raises PartnerSettingsError: a missing field, an unknown extra or a bad value, named.
        """
        conn = self.get_connection(self.symphonics_conn_id)
        try:
            return partner_settings(
                conn.host, conn.login, conn.password, conn.extra_dejson, schema=conn.schema, port=conn.port
            )
        except PartnerSettingsError as exc:
            raise PartnerSettingsError(f"connection {self.symphonics_conn_id!r}: {exc}") from None

    @cached_property
    def settings(self) -> ClientSettings:
        """The client settings of the connection."""
        return self.partner_settings.client_settings()

    @property
    def webhook_secret(self) -> str | None:
        """The secret that signs the partner's webhooks (for the webhook receiver)."""
        return self.partner_settings.webhook_secret

    @staticmethod
    def read_kill_switch() -> bool:
        """Whether ops turned the kill switch on (Variable ``symphonics_kill_switch``), read now.

        Fails closed: unset or an off word (``off``, ``false``, ``0``, ``no``) lets calls through; an on word and any
        other value (``enabled``, ``stop``, a typo) stops them.
        """
        from airflow.sdk import Variable

        # No "off" default: Airflow masks a missing Variable's default and warns when it is under 5 characters.
        value = Variable.get(KILL_SWITCH_VARIABLE, default=None)
        return config.kill_switch_on(f"Variable {KILL_SWITCH_VARIABLE}", value)

    def kill_switch_on(self) -> bool:
        """The kill switch as the client's guard sees it (read at most every ``kill_switch_ttl`` seconds)."""
        return self.guard.kill_switch_on()

    def _cipher(self) -> Any:
        from airflow.sdk.crypto import get_fernet

        fernet = fernet_or_clear_error(get_fernet)
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
        """Obtain a new token with the connection's URL and credentials: one request, one attempt, class ``ops``.

        The answer comes at once: no retry, no wait for the shared quota (a full minute or the partner's
        ``Retry-After`` answers "quota busy for N s" with nothing sent). The request is recorded in
        ``symphonics.api_calls`` as the operation ``check_connection``. The message says which part failed: the
        connection's settings, the URL, the credentials, the partner, or the ``sync`` database that keeps the
        shared quota. With the kill switch on nothing is sent.
        """
        try:
            settings = self.partner_settings
        except (PartnerSettingsError, InsecureURLError) as exc:
            return False, redact(f"Bad connection settings: {exc}")
        try:
            client = self.get_conn()
        except InsecureURLError as exc:
            return False, f"Refused URL: {exc}"
        except FernetKeyError as exc:
            return False, str(exc)
        except Exception as exc:
            return False, redact(
                f"The partner was not contacted: the sync database ({self.sync_conn_id}), which keeps the shared "
                f"quota and token, is unusable: {type(exc).__name__}: {exc}"
            )
        url = settings.base_url
        try:
            client.check_credentials(priority=OPS)
        except KillSwitchOn:
            return False, f"kill switch on ({KILL_SWITCH_VARIABLE}): the partner was not contacted"
        except QuotaBusy as exc:
            return False, (
                f"Symphonics quota busy for {max(1, round(exc.wait))} s (the minute is full, or the partner asked "
                "to wait): the partner was not contacted, try again then"
            )
        except QuotaExhausted as exc:
            return False, redact(f"No Symphonics quota left for a check today: the partner was not contacted ({exc})")
        except SymphonicsAuthError as exc:
            if exc.status == 403:
                return False, redact(f"Permission refused by {url} to the client id {settings.client_id!r} (HTTP 403)")
            return False, redact(
                f"Credentials refused by {url}: the client id {settings.client_id!r} or the client secret is wrong "
                f"(HTTP {exc.status or 401})"
            )
        except SymphonicsRateLimited as exc:
            return False, redact(f"Rate limited by {url} (HTTP 429): try again later ({exc})")
        except SymphonicsUnavailable as exc:
            return False, redact(f"Partner unreachable at {url}: {exc}")
        except Exception as exc:
            return False, redact(f"The token request to {url} failed: {type(exc).__name__}: {exc}")
        return True, f"Connected to {client.base_url} as {settings.client_id}: a token was obtained"


class FernetKeyError(RuntimeError):
    """Airflow's Fernet key is missing or not a key: the shared token cannot be encrypted."""


def fernet_or_clear_error(get_fernet: Any) -> Any:
    """Airflow's Fernet object, or one clear error saying what to set.

    An ``AIRFLOW_HOME`` without ``airflow.cfg`` makes the Task SDK's configuration return its template's text
    ``{FERNET_KEY}``, which Airflow reports only as "Fernet key must be 32 url-safe base64-encoded bytes".

    :param get_fernet: ``airflow.sdk.crypto.get_fernet``.
    :raises FernetKeyError: naming the setting and how to make a key.
    """
    try:
        return get_fernet()
    except Exception as exc:
        if "fernet" not in str(exc).lower():
            raise
        raise FernetKeyError(
            "Airflow's Fernet key is not a valid key (an AIRFLOW_HOME without airflow.cfg gives the template "
            "text '{FERNET_KEY}'): set AIRFLOW__CORE__FERNET_KEY (the same in every Airflow component) to a key "
            'made with: python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
        ) from None
