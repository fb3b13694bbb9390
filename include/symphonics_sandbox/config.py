"""The sandbox's configuration: its keys, their defaults, loading from YAML and changes at run time.

Every key can be set in the YAML file given with ``--config``; the run-time ones can be changed through
``PATCH /_sandbox/config``. A configuration is immutable: a change builds a new one, validated as a whole,
and the running sandbox swaps it in at once.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from include.symphonics_sandbox.routes import is_valid_selector

# Sandbox demo values, published in docs/SANDBOX.md: they guard nothing and are not secrets.
DEMO_CLIENT_ID = "wfa-sandbox-demo"
DEMO_CLIENT_SECRET = "sandbox-demo-secret-not-for-production"  # noqa: S105 - sandbox demo value
DEMO_WEBHOOK_SECRET = "sandbox-demo-webhook-secret"  # noqa: S105 - sandbox demo value

CONFLICT_MODES = ("bare", "with_id")
#: An admin token shorter than this is refused: it would be guessable.
MIN_ADMIN_TOKEN_LENGTH = 16
UNKNOWN_FIELD_POLICIES = ("reject", "ignore")

#: Keys that only take effect when the process starts, so PATCH /_sandbox/config refuses them. The admin
#: token is one: whoever holds it must not be able to hand the admin API to someone else at run time.
STARTUP_ONLY_KEYS = frozenset({"host", "port", "state_file", "call_log_size", "admin_token"})
#: What GET /_sandbox/config shows instead of a secret.
REDACTED = "***"


class ConfigError(ValueError):
    """A configuration key is unknown or has a value the sandbox cannot run with."""


@dataclass(frozen=True)
class ClientConfig:
    """One API client the token endpoint knows.

    :param client_id: the OAuth client id.
    :param client_secret: its secret.
    :param allowed_routes: route names or dotted prefixes it may call (``None``: every route).
    :param rate_limit_per_minute: its own per-minute limit (``None``: the global one).
    :param rate_limit_per_day: its own per-day limit (``None``: the global one).
    """

    client_id: str
    client_secret: str
    allowed_routes: tuple[str, ...] | None = None
    rate_limit_per_minute: int | None = None
    rate_limit_per_day: int | None = None


@dataclass(frozen=True)
class WebhookRetryPolicy:
    """How failed webhook deliveries are retried: exponential backoff, capped attempts.

    The wait before attempt ``n + 1`` is ``min(max_backoff, initial_backoff * multiplier ** (n - 1))``
    sandbox seconds, i.e. divided by ``time_scale`` in real time.
    """

    max_attempts: int = 5
    initial_backoff: float = 1.0
    multiplier: float = 2.0
    max_backoff: float = 300.0
    timeout: float = 5.0


@dataclass(frozen=True)
class FaultConfig:
    """Faults armed when the sandbox starts (and again after each reset).

    Keys of the mappings are route selectors
    (see :func:`~include.symphonics_sandbox.routes.selector_matches`).
    """

    error_rate: dict[str, float] = field(default_factory=dict)
    error_status: int = 500
    burst: dict[str, int] = field(default_factory=dict)
    burst_status: int = 503
    storm_429: dict[str, int] = field(default_factory=dict)
    storm_retry_after: int = 1
    latency: dict[str, float] = field(default_factory=dict)
    hang: dict[str, float] = field(default_factory=dict)
    drop_after_commit: int = 0
    seed: int | None = None


def _demo_clients() -> tuple[ClientConfig, ...]:
    return (ClientConfig(client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET),)


@dataclass(frozen=True)
class SandboxConfig:
    """Everything the sandbox can be told; the defaults are the partner's documented behaviour."""

    host: str = "127.0.0.1"
    port: int = 8099
    state_file: str | None = None
    clients: tuple[ClientConfig, ...] = field(default_factory=_demo_clients)
    token_expires_in: int = 3600
    rate_limit_per_minute: int = 100
    rate_limit_per_day: int = 5000
    count_token_requests: bool = True
    time_scale: float = 1.0
    processing_delay: float = 2.0
    decision_delay: float = 5.0
    conflict_mode: str = "bare"
    unknown_fields: str = "reject"
    accept_gzip: bool = False
    max_body_bytes: int = 1_048_576
    webhook_url: str | None = None
    webhook_secret: str = DEMO_WEBHOOK_SECRET
    webhook_retry: WebhookRetryPolicy = field(default_factory=WebhookRetryPolicy)
    faults: FaultConfig = field(default_factory=FaultConfig)
    call_log_size: int = 200_000
    ticker_interval: float = 0.1
    admin_token: str | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Render the whole configuration as plain data, secrets included (for merging changes, never shown).

        The admin API shows :meth:`public_dict` instead.
        """
        data = dataclasses.asdict(self)
        for client in data["clients"]:
            if client["allowed_routes"] is not None:
                client["allowed_routes"] = list(client["allowed_routes"])
        data["clients"] = list(data["clients"])
        return data

    def public_dict(self) -> dict[str, Any]:
        """The configuration as ``GET /_sandbox/config`` shows it: client secrets and the webhook secret
        redacted, the admin token left out (a page that could read the configuration learns no secret)."""
        data = self.to_dict()
        del data["admin_token"]
        data["webhook_secret"] = REDACTED
        for client in data["clients"]:
            client["client_secret"] = REDACTED
        return data

    def client(self, client_id: str) -> ClientConfig | None:
        """Find a configured client by id.

        :param client_id: the OAuth client id.
        """
        for client in self.clients:
            if client.client_id == client_id:
                return client
        return None

    def with_changes(self, changes: dict[str, Any], *, at_runtime: bool = False) -> SandboxConfig:
        """Build a new configuration from this one and a (nested) mapping of changes.

        Nested mappings (``webhook_retry``, ``faults``) are merged key by key; ``clients`` is replaced whole.

        :param changes: the keys to change.
        :param at_runtime: refuse keys that only take effect at start-up.
        :raises ConfigError: on an unknown key or an invalid value.
        """
        if not isinstance(changes, dict):
            raise ConfigError("configuration changes must be a mapping")
        if at_runtime:
            refused = sorted(STARTUP_ONLY_KEYS.intersection(changes))
            if refused:
                raise ConfigError(f"{', '.join(refused)}: only settable at start-up")
        merged = _deep_merge(self.to_dict(), changes)
        return config_from_dict(merged)


def _deep_merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in changes.items():
        if key in ("webhook_retry", "faults") and isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _check_keys(data: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ConfigError(f"unknown key(s) in {where}: {', '.join(unknown)}")


def _number(value: Any, key: str, *, minimum: float, integer: bool = False, exclusive: bool = False) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{key}: must be a number")
    if integer and not isinstance(value, int):
        raise ConfigError(f"{key}: must be an integer")
    if value < minimum or (exclusive and value == minimum):
        raise ConfigError(f"{key}: must be {'>' if exclusive else '>='} {minimum}")
    return value


def _optional_str(value: Any, key: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{key}: must be a non-empty string or null")
    return value


def _selector_map(value: Any, key: str, *, integer: bool, maximum: float | None = None) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{key}: must be a mapping of route selector to value")
    result: dict[str, Any] = {}
    for selector, amount in value.items():
        if not isinstance(selector, str) or not is_valid_selector(selector):
            raise ConfigError(f"{key}: {selector!r} matches no partner route")
        number = _number(amount, f"{key}.{selector}", minimum=0, integer=integer)
        if maximum is not None and number > maximum:
            raise ConfigError(f"{key}.{selector}: must be <= {maximum}")
        result[selector] = number
    return result


def _server_error_status(value: Any, key: str) -> int:
    status = _number(value, key, minimum=500, integer=True)
    if status > 599:
        raise ConfigError(f"{key}: must be a 5xx status")
    return int(status)


def _client_from_dict(data: Any, index: int) -> ClientConfig:
    where = f"clients[{index}]"
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: must be a mapping")
    _check_keys(data, {f.name for f in dataclasses.fields(ClientConfig)}, where)
    client_id = data.get("client_id")
    secret = data.get("client_secret")
    if not isinstance(client_id, str) or not client_id or not isinstance(secret, str) or not secret:
        raise ConfigError(f"{where}: client_id and client_secret are required strings")
    routes = data.get("allowed_routes")
    if routes is not None:
        if not isinstance(routes, list | tuple) or not all(isinstance(r, str) for r in routes):
            raise ConfigError(f"{where}.allowed_routes: must be a list of route names or prefixes")
        for selector in routes:
            if not is_valid_selector(selector):
                raise ConfigError(f"{where}.allowed_routes: {selector!r} matches no partner route")
        routes = tuple(routes)
    per_minute = data.get("rate_limit_per_minute")
    per_day = data.get("rate_limit_per_day")
    return ClientConfig(
        client_id=client_id,
        client_secret=secret,
        allowed_routes=routes,
        rate_limit_per_minute=None
        if per_minute is None
        else _number(per_minute, f"{where}.rate_limit_per_minute", minimum=1, integer=True),
        rate_limit_per_day=None
        if per_day is None
        else _number(per_day, f"{where}.rate_limit_per_day", minimum=1, integer=True),
    )


def _retry_from_dict(data: Any) -> WebhookRetryPolicy:
    if data is None:
        return WebhookRetryPolicy()
    if not isinstance(data, dict):
        raise ConfigError("webhook_retry: must be a mapping")
    _check_keys(data, {f.name for f in dataclasses.fields(WebhookRetryPolicy)}, "webhook_retry")
    defaults = WebhookRetryPolicy()
    return WebhookRetryPolicy(
        max_attempts=_number(
            data.get("max_attempts", defaults.max_attempts),
            "webhook_retry.max_attempts",
            minimum=1,
            integer=True,
        ),
        initial_backoff=float(
            _number(data.get("initial_backoff", defaults.initial_backoff), "initial_backoff", minimum=0)
        ),
        multiplier=float(_number(data.get("multiplier", defaults.multiplier), "multiplier", minimum=1)),
        max_backoff=float(_number(data.get("max_backoff", defaults.max_backoff), "max_backoff", minimum=0)),
        timeout=float(_number(data.get("timeout", defaults.timeout), "timeout", minimum=0, exclusive=True)),
    )


def _faults_from_dict(data: Any) -> FaultConfig:
    if data is None:
        return FaultConfig()
    if not isinstance(data, dict):
        raise ConfigError("faults: must be a mapping")
    _check_keys(data, {f.name for f in dataclasses.fields(FaultConfig)}, "faults")
    defaults = FaultConfig()
    seed = data.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ConfigError("faults.seed: must be an integer or null")
    return FaultConfig(
        error_rate=_selector_map(data.get("error_rate"), "faults.error_rate", integer=False, maximum=1.0),
        error_status=_server_error_status(data.get("error_status", defaults.error_status), "faults.error_status"),
        burst=_selector_map(data.get("burst"), "faults.burst", integer=True),
        burst_status=_server_error_status(data.get("burst_status", defaults.burst_status), "faults.burst_status"),
        storm_429=_selector_map(data.get("storm_429"), "faults.storm_429", integer=True),
        storm_retry_after=_number(
            data.get("storm_retry_after", defaults.storm_retry_after),
            "faults.storm_retry_after",
            minimum=1,
            integer=True,
        ),
        latency=_selector_map(data.get("latency"), "faults.latency", integer=False),
        hang=_selector_map(data.get("hang"), "faults.hang", integer=False),
        drop_after_commit=_number(
            data.get("drop_after_commit", 0), "faults.drop_after_commit", minimum=0, integer=True
        ),
        seed=seed,
    )


_URL = re.compile(r"^https?://[^\s/]+(/\S*)?$")


def config_from_dict(data: dict[str, Any]) -> SandboxConfig:
    """Build and validate a configuration from plain data (as read from YAML).

    Missing keys take their defaults.

    :param data: the configuration mapping.
    :raises ConfigError: on an unknown key or an invalid value.
    """
    if not isinstance(data, dict):
        raise ConfigError("the configuration must be a mapping")
    _check_keys(data, {f.name for f in dataclasses.fields(SandboxConfig)}, "the configuration")
    defaults = SandboxConfig()

    def get(key: str) -> Any:
        return data.get(key, getattr(defaults, key))

    raw_clients = data.get("clients")
    if raw_clients is None:
        clients = defaults.clients
    else:
        if not isinstance(raw_clients, list | tuple) or not raw_clients:
            raise ConfigError("clients: must be a non-empty list")
        clients = tuple(_client_from_dict(item, index) for index, item in enumerate(raw_clients))
        ids = [client.client_id for client in clients]
        if len(set(ids)) != len(ids):
            raise ConfigError("clients: client_id values must be unique")

    conflict_mode = get("conflict_mode")
    if conflict_mode not in CONFLICT_MODES:
        raise ConfigError(f"conflict_mode: must be one of {', '.join(CONFLICT_MODES)}")
    unknown_fields = get("unknown_fields")
    if unknown_fields not in UNKNOWN_FIELD_POLICIES:
        raise ConfigError(f"unknown_fields: must be one of {', '.join(UNKNOWN_FIELD_POLICIES)}")
    webhook_url = _optional_str(get("webhook_url"), "webhook_url")
    if webhook_url is not None and not _URL.match(webhook_url):
        raise ConfigError("webhook_url: must be an http(s) URL or null")
    webhook_secret = get("webhook_secret")
    if not isinstance(webhook_secret, str) or not webhook_secret:
        raise ConfigError("webhook_secret: must be a non-empty string")
    host = get("host")
    if not isinstance(host, str) or not host:
        raise ConfigError("host: must be a non-empty string")
    port = _number(get("port"), "port", minimum=0, integer=True)
    if port > 65535:
        raise ConfigError("port: must be <= 65535")
    admin_token = get("admin_token")
    if admin_token is not None and (not isinstance(admin_token, str) or len(admin_token) < MIN_ADMIN_TOKEN_LENGTH):
        raise ConfigError(f"admin_token: must be a string of at least {MIN_ADMIN_TOKEN_LENGTH} characters, or null")
    for flag in ("count_token_requests", "accept_gzip"):
        if not isinstance(get(flag), bool):
            raise ConfigError(f"{flag}: must be true or false")

    return SandboxConfig(
        host=host,
        port=port,
        state_file=_optional_str(get("state_file"), "state_file"),
        clients=clients,
        token_expires_in=_number(get("token_expires_in"), "token_expires_in", minimum=1, integer=True),
        rate_limit_per_minute=_number(get("rate_limit_per_minute"), "rate_limit_per_minute", minimum=1, integer=True),
        rate_limit_per_day=_number(get("rate_limit_per_day"), "rate_limit_per_day", minimum=1, integer=True),
        count_token_requests=get("count_token_requests"),
        time_scale=float(_number(get("time_scale"), "time_scale", minimum=0, exclusive=True)),
        processing_delay=float(_number(get("processing_delay"), "processing_delay", minimum=0)),
        decision_delay=float(_number(get("decision_delay"), "decision_delay", minimum=0)),
        conflict_mode=conflict_mode,
        unknown_fields=unknown_fields,
        accept_gzip=get("accept_gzip"),
        max_body_bytes=_number(get("max_body_bytes"), "max_body_bytes", minimum=1, integer=True),
        webhook_url=webhook_url,
        webhook_secret=webhook_secret,
        webhook_retry=_retry_from_dict(data.get("webhook_retry")),
        faults=_faults_from_dict(data.get("faults")),
        call_log_size=_number(get("call_log_size"), "call_log_size", minimum=1, integer=True),
        ticker_interval=float(_number(get("ticker_interval"), "ticker_interval", minimum=0, exclusive=True)),
        admin_token=admin_token,
    )


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> SandboxConfig:
    """Load a configuration from a YAML file (or the defaults), then apply overrides (e.g. CLI flags).

    :param path: the YAML file, or None for the defaults.
    :param overrides: keys that win over the file.
    :raises ConfigError: on an unreadable file, an unknown key or an invalid value.
    """
    data: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from exc
        if loaded is not None:
            if not isinstance(loaded, dict):
                raise ConfigError(f"{path}: the configuration must be a mapping")
            data = loaded
    data = {**data, **(overrides or {})}
    return config_from_dict(data)
