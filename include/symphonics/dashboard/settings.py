"""What the dashboard reads: the ``sync`` database and the quota limits the client works with.

The limits come from the Symphonics connection (``symphonics_default``) read by the settings model the hook
uses (:func:`~include.symphonics.partner_settings.partner_settings`), and the day's start and each class's cap
are the client's own arithmetic (:class:`~include.symphonics.client.ratelimit.QuotaPolicy`, ``time_scale``
included), so the dashboard compares usage with the numbers the client enforces. Without a usable connection
(a fresh install, the tests) the defaults are shown, and the page says why.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from include.symphonics.core.quota_policy import PRIORITY_CLASSES, ClassQuota, QuotaPolicy
from include.symphonics.partner_settings import (
    EXTRAS,
    PARTNER_CONN_ID,
    default_quota_policy,
    partner_settings_from_airflow,
)

log = logging.getLogger(__name__)

SYMPHONICS_CONN_ID = PARTNER_CONN_ID


def _default_policy() -> QuotaPolicy:
    return default_quota_policy()


@dataclass(frozen=True)
class QuotaLimits:
    """The quota the client enforces for one client id (its defaults are the settings model's).

    :param client_id: the client id whose calls are counted (``None``: every client id in ``api_calls``).
    :param requests_per_minute: the partner's per-minute limit.
    :param requests_per_day: the partner's per-day limit.
    :param shares: the most of the day each priority class may use (0..1).
    :param reserves: the part of the day other classes must leave to a class (0..1).
    :param day_reset_utc: seconds after midnight UTC at which the partner's day starts.
    :param time_scale: partner seconds per real second (a sandbox's; 1 in production).
    :param breaker_failures: consecutive unavailable calls that open the client's breaker.
    :param breaker_reset: seconds the breaker stays open.
    :param source: where these numbers come from, shown on the page.
    """

    client_id: str | None = None
    requests_per_minute: int = field(default_factory=lambda: _default_policy().requests_per_minute)
    requests_per_day: int = field(default_factory=lambda: _default_policy().requests_per_day)
    shares: dict[str, float] = field(
        default_factory=lambda: {name: quota.share for name, quota in _default_policy().classes.items()}
    )
    reserves: dict[str, float] = field(
        default_factory=lambda: {name: quota.reserve for name, quota in _default_policy().classes.items()}
    )
    day_reset_utc: float = field(default_factory=lambda: _default_policy().day_reset_utc)
    time_scale: float = field(default_factory=lambda: _default_policy().time_scale)
    breaker_failures: int = field(default_factory=lambda: EXTRAS["breaker_failures"].default)
    breaker_reset: float = field(default_factory=lambda: EXTRAS["breaker_reset"].default)
    source: str = f"the defaults (no connection {PARTNER_CONN_ID!r})"

    @classmethod
    def from_policy(cls, policy: QuotaPolicy, **fields: object) -> QuotaLimits:
        """The limits of a client's quota policy."""
        return cls(
            requests_per_minute=policy.requests_per_minute,
            requests_per_day=policy.requests_per_day,
            shares={name: quota.share for name, quota in policy.classes.items()},
            reserves={name: quota.reserve for name, quota in policy.classes.items()},
            day_reset_utc=policy.day_reset_utc,
            time_scale=policy.time_scale,
            **fields,  # type: ignore[arg-type]
        )

    def policy(self) -> QuotaPolicy:
        """The client's quota policy of these limits: its arithmetic is the dashboard's."""
        names = set(self.shares) | set(self.reserves)
        return QuotaPolicy(
            requests_per_minute=self.requests_per_minute,
            requests_per_day=self.requests_per_day,
            classes={
                name: ClassQuota(share=self.shares.get(name, 1.0), reserve=self.reserves.get(name, 0.0))
                for name in names
            },
            day_reset_utc=self.day_reset_utc,
            time_scale=self.time_scale,
        )

    def day_start(self, now: datetime) -> datetime:
        """Start of the partner's day containing ``now`` (the client's ``QuotaPolicy.day_start``).

        :param now: an aware datetime.
        """
        return datetime.fromtimestamp(self.policy().day_start(now.timestamp()), UTC)

    @property
    def day_length(self) -> timedelta:
        """Real length of the partner's day."""
        return timedelta(seconds=self.policy().day_length)

    @property
    def minute_length(self) -> timedelta:
        """Real length of the partner's minute."""
        return timedelta(seconds=self.policy().minute_length)

    def class_cap(self, priority_class: str) -> int:
        """Requests a class may send in one day (the client's ``QuotaPolicy.class_cap``).

        :param priority_class: ``publish``, ``reconcile`` or ``ops``.
        """
        return self.policy().class_cap(priority_class)

    def as_dict(self) -> dict[str, object]:
        """The limits for the JSON document."""
        return {
            "client_id": self.client_id,
            "requests_per_minute": self.requests_per_minute,
            "requests_per_day": self.requests_per_day,
            "shares": {name: self.shares.get(name, 1.0) for name in PRIORITY_CLASSES},
            "reserves": {name: self.reserves.get(name, 0.0) for name in PRIORITY_CLASSES},
            "time_scale": self.time_scale,
            "breaker_failures": self.breaker_failures,
            "breaker_reset_seconds": self.breaker_reset,
            "source": self.source,
        }


def limits_from_airflow(conn_id: str = SYMPHONICS_CONN_ID) -> QuotaLimits:
    """The limits of the Symphonics connection, or the defaults when it is missing or unusable.

    :param conn_id: the Symphonics connection.
    """
    try:
        settings = partner_settings_from_airflow(conn_id)
    except Exception as exc:  # any lookup or parse failure: the defaults, and the page says why
        log.info("dashboard: connection %s not usable (%s); showing the default limits", conn_id, type(exc).__name__)
        return QuotaLimits(source=f"the defaults (connection {conn_id!r} not usable: {type(exc).__name__})")
    return QuotaLimits.from_policy(
        settings.quota_policy(),
        client_id=settings.client_id,
        breaker_failures=settings.options["breaker_failures"],
        breaker_reset=settings.options["breaker_reset"],
        source=f"connection '{conn_id}'",
    )


#: The dashboard's own connection string (a login in the ``symphonics_dashboard`` role); ``make run`` sets it.
DASHBOARD_DSN_ENV = "SYMPHONICS_DASHBOARD_DSN"


def sync_dsn_from_airflow() -> str:
    """The ``sync`` database's connection string: ``SYMPHONICS_DASHBOARD_DSN`` (the dashboard's least-privilege
    login) when set, else the Airflow connection ``sync_db``."""

    from include.symphonics.core.config import env_text
    from include.symphonics.db import SYNC_CONN_ID, dsn

    return env_text(DASHBOARD_DSN_ENV) or dsn(SYNC_CONN_ID)
