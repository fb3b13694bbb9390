"""OAuth2 client credentials, with the access token shared by every process of one client id.

Every Airflow task is a new process: a token kept in memory only would cost one token request per task,
hundreds a day against a quota of 5,000. So the token lives in a :class:`TokenStore`; the PostgreSQL store
keeps it in the ``sync`` database, encrypted with a cipher the caller passes in (the hook passes Airflow's
Fernet), and serialises refreshes with an advisory lock so two processes never both fetch a new one.

The token is renewed before it expires (with a margin) and once when the partner answers 401 with it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from include.symphonics.client.errors import SymphonicsAuthError
from include.symphonics.client.pg import SyncDatabase
from include.symphonics.core.redaction import register_secret
from include.symphonics.sql import SqlFolder

#: Seconds before expiry at which a token is renewed (capped at half the token's lifetime).
DEFAULT_REFRESH_MARGIN = 60.0


@dataclass(frozen=True)
class AccessToken:
    """A bearer token and when it must be renewed.

    :param value: the token itself (never in ``repr``).
    :param expires_at: epoch seconds at which the partner stops accepting it.
    :param refresh_at: epoch seconds from which it is renewed before use.
    """

    value: str = field(repr=False)
    expires_at: float
    refresh_at: float
    token_type: str = "Bearer"  # noqa: S105 - the scheme name, not a secret


class Cipher(Protocol):
    """What encrypts the stored token: ``cryptography``'s ``Fernet``, Airflow's ``get_fernet()``, ..."""

    def encrypt(self, msg: bytes) -> bytes: ...

    def decrypt(self, msg: bytes) -> bytes: ...


class TokenStore(Protocol):
    """Where the current token of a client id and base URL is kept."""

    def load(self, client_id: str, base_url: str) -> AccessToken | None:
        """The stored token, or ``None``."""
        ...

    def renew(
        self,
        client_id: str,
        base_url: str,
        still_good: Callable[[AccessToken], bool],
        obtain: Callable[[], AccessToken],
    ) -> AccessToken:
        """Under a lock shared by every user of the store: return the stored token if ``still_good``,
        else ``obtain`` a new one, store it and return it."""
        ...


class InMemoryTokenStore:
    """A token store for one process (scripts, tests); nothing is shared."""

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, str], AccessToken] = {}
        self._lock = threading.Lock()

    def load(self, client_id: str, base_url: str) -> AccessToken | None:
        return self._tokens.get((client_id, base_url))

    def renew(
        self,
        client_id: str,
        base_url: str,
        still_good: Callable[[AccessToken], bool],
        obtain: Callable[[], AccessToken],
    ) -> AccessToken:
        with self._lock:
            current = self._tokens.get((client_id, base_url))
            if current is not None and still_good(current):
                return current
            token = obtain()
            self._tokens[(client_id, base_url)] = token
            return token


_SQL = SqlFolder("client")


def _epoch(value: datetime) -> float:
    return value.timestamp()


def _timestamp(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


class PostgresTokenStore:
    """The token in ``symphonics.api_tokens``, encrypted with ``cipher``.

    Renewal holds a transaction-scoped advisory lock keyed on (client id, base URL) while the token request
    runs: a second process waits, then finds the new token instead of asking for another. Being
    transaction-scoped, the lock goes away with a crashed worker's connection.

    :param dsn: the ``sync`` database.
    :param cipher: encrypts the token at rest; a token is never written in clear text.
    """

    def __init__(self, dsn: str, cipher: Cipher) -> None:
        self._db = SyncDatabase(dsn)
        self._cipher = cipher

    def _decode(self, row: tuple[Any, ...] | None) -> AccessToken | None:
        if row is None:
            return None
        encrypted, token_type, expires_at, refresh_at = row
        try:
            value = self._cipher.decrypt(bytes(encrypted)).decode("utf-8")
        except Exception:
            # Unreadable after a key rotation: treat as absent and fetch a new one.
            return None
        register_secret(value)
        return AccessToken(
            value=value, expires_at=_epoch(expires_at), refresh_at=_epoch(refresh_at), token_type=token_type
        )

    def load(self, client_id: str, base_url: str) -> AccessToken | None:
        with self._db.transaction() as conn:
            row = conn.execute(_SQL.query("token_read"), {"client_id": client_id, "base_url": base_url}).fetchone()
        return self._decode(row)

    def renew(
        self,
        client_id: str,
        base_url: str,
        still_good: Callable[[AccessToken], bool],
        obtain: Callable[[], AccessToken],
    ) -> AccessToken:
        with self._db.transaction() as conn:
            key = {"client_id": client_id, "base_url": base_url}
            conn.execute(_SQL.query("token_renew_lock"), key)
            current = self._decode(conn.execute(_SQL.query("token_read"), key).fetchone())
            if current is not None and still_good(current):
                return current
            token = obtain()
            conn.execute(
                _SQL.query("token_write"),
                {
                    **key,
                    "encrypted": self._cipher.encrypt(token.value.encode("utf-8")),
                    "token_type": token.token_type,
                    "expires_at": _timestamp(token.expires_at),
                    "refresh_at": _timestamp(token.refresh_at),
                },
            )
            return token

    def close(self) -> None:
        """Close the store's database connection."""
        self._db.close()


#: Sends the token request (form fields) and returns the reply's JSON; raises typed errors.
TokenRequester = Callable[[dict[str, str]], dict[str, Any]]


class OAuth2ClientCredentials:
    """The client-credentials grant of the partner's ``/auth/token``, in the manner of dlt's auth classes.

    :param client_id: the partner's client id.
    :param client_secret: the partner's client secret.
    :param base_url: the API base URL (with the client id, the key of the stored token).
    :param request_token: sends the token request by default; the client passes, per call, one that goes
        through its guard and quota and writes a call row like any other request.
    :param store: where the token is shared (default: this process only).
    :param refresh_margin: seconds before expiry at which the token is renewed.
    :param clock: epoch seconds (tests pass a fake one).
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        base_url: str,
        request_token: TokenRequester,
        store: TokenStore | None = None,
        refresh_margin: float = DEFAULT_REFRESH_MARGIN,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client_id = client_id
        self._client_secret = client_secret
        register_secret(client_secret)
        self.base_url = base_url
        self._request_token = request_token
        self.store: TokenStore = store if store is not None else InMemoryTokenStore()
        self.refresh_margin = refresh_margin
        self._clock = clock
        self._token: AccessToken | None = None

    def is_token_expired(self, token: AccessToken | None = None) -> bool:
        """Whether ``token`` (default: the one in hand) is missing or due for renewal.

        :param token: the token to judge.
        """
        token = token if token is not None else self._token
        return token is None or self._clock() >= token.refresh_at

    def obtain_token(self, request_token: TokenRequester | None = None) -> AccessToken:
        """Ask the partner for a new token (one request, counted like any other).

        :param request_token: sends the request for this call (the client passes one bound to the priority
            class and attempt of the call that needs the token); default: the one given at construction.
        """
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self._client_secret,
        }
        payload = (request_token or self._request_token)(form)
        value = payload.get("access_token")
        if not isinstance(value, str) or not value:
            raise SymphonicsAuthError("the token reply holds no access_token", status=200)
        register_secret(value)
        try:
            lifetime = float(payload.get("expires_in", 3600))
        except (TypeError, ValueError):
            lifetime = 3600.0
        now = self._clock()
        margin = min(self.refresh_margin, lifetime / 2)
        return AccessToken(
            value=value,
            expires_at=now + lifetime,
            refresh_at=now + lifetime - margin,
            token_type=str(payload.get("token_type") or "Bearer"),
        )

    def access_token(self, request_token: TokenRequester | None = None) -> AccessToken:
        """A token fit for use: the one in hand, else the shared one, else a new one.

        :param request_token: sends a token request if one is needed (see :meth:`obtain_token`).
        """
        if not self.is_token_expired(self._token):
            assert self._token is not None
            return self._token
        shared = self.store.load(self.client_id, self.base_url)
        if shared is None or self.is_token_expired(shared):
            shared = self.store.renew(
                self.client_id,
                self.base_url,
                lambda t: not self.is_token_expired(t),
                lambda: self.obtain_token(request_token),
            )
        self._token = shared
        return shared

    def renew_rejected(self, rejected: AccessToken, request_token: TokenRequester | None = None) -> AccessToken:
        """A new token after the partner answered 401 to ``rejected``.

        Another process may have renewed it already: a stored token other than the rejected one is taken.

        :param rejected: the token the partner refused.
        :param request_token: sends the token request (see :meth:`obtain_token`).
        """
        self._token = self.store.renew(
            self.client_id,
            self.base_url,
            lambda t: t.value != rejected.value and not self.is_token_expired(t),
            lambda: self.obtain_token(request_token),
        )
        return self._token

    def renew_now(self, request_token: TokenRequester | None = None) -> AccessToken:
        """A new token whatever the stored one is (proves the URL and the credentials).

        :param request_token: sends the token request (see :meth:`obtain_token`).
        """
        self._token = self.store.renew(
            self.client_id, self.base_url, lambda _t: False, lambda: self.obtain_token(request_token)
        )
        return self._token
