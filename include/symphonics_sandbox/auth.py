"""OAuth 2.0 client credentials: issuing opaque bearer tokens, checking them, and route permissions."""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass

from include.symphonics_sandbox.config import ClientConfig, SandboxConfig
from include.symphonics_sandbox.errors import SandboxError
from include.symphonics_sandbox.routes import selector_matches
from include.symphonics_sandbox.state import StateStore


@dataclass(frozen=True)
class IssuedAccessToken:
    """A token just issued: what the token endpoint answers.

    :param access_token: the opaque bearer token.
    :param expires_in: its lifetime in seconds.
    """

    access_token: str
    expires_in: int


def authenticate_client(config: SandboxConfig, client_id: str, client_secret: str) -> ClientConfig:
    """Check client credentials (in constant time, as a real server would).

    :param config: the current configuration.
    :param client_id: the presented client id.
    :param client_secret: the presented secret.
    :raises SandboxError: 401 when the client is unknown or the secret wrong.
    """
    client = config.client(client_id)
    expected = client.client_secret if client is not None else "x"
    if client is None or not hmac.compare_digest(expected.encode("utf-8"), client_secret.encode("utf-8")):
        raise SandboxError(401, "Invalid client credentials")
    return client


def issue_token(store: StateStore, config: SandboxConfig, client: ClientConfig) -> IssuedAccessToken:
    """Issue a new bearer token for a client; it expires after ``token_expires_in`` real seconds.

    :param store: where tokens are remembered.
    :param config: the current configuration.
    :param client: the authenticated client.
    """
    now = time.time()
    store.forget_expired_tokens(now)
    token = secrets.token_urlsafe(32)
    store.add_token(token, client.client_id, now + config.token_expires_in)
    return IssuedAccessToken(access_token=token, expires_in=config.token_expires_in)


def client_for_bearer(store: StateStore, config: SandboxConfig, authorization: str | None, now: float) -> ClientConfig:
    """The client a request's ``Authorization`` header authenticates.

    :param store: where tokens are remembered.
    :param config: the current configuration.
    :param authorization: the header value, or None when absent.
    :param now: the current time.
    :raises SandboxError: 401 when the header is missing or malformed, or the token unknown, revoked or
        expired, or its client no longer configured.
    """
    if not authorization:
        raise SandboxError(401, "Missing bearer token")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise SandboxError(401, "Authorization header must be 'Bearer <token>'")
    issued = store.find_token(token)
    if issued is None:
        raise SandboxError(401, "Invalid or revoked token")
    if issued.expires_at <= now:
        raise SandboxError(401, "Token expired")
    client = config.client(issued.client_id)
    if client is None:
        raise SandboxError(401, "Invalid or revoked token")
    return client


def check_route_allowed(client: ClientConfig, route: str) -> None:
    """Refuse a route the client is not allowed (``allowed_routes``; None allows every route).

    :param client: the authenticated client.
    :param route: the partner route name.
    :raises SandboxError: 403 when the route is not allowed.
    """
    if client.allowed_routes is None:
        return
    if not any(selector_matches(route, selector) for selector in client.allowed_routes):
        raise SandboxError(403, "This client is not allowed to call this endpoint")
