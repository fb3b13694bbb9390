"""What the dashboard reads: the ``sync`` database and the quota limits the client works with.

The limits come from the Symphonics connection (``symphonics_default``), parsed exactly as the hook parses them,
so the dashboard compares usage with the numbers the client enforces. Without that connection (a fresh install,
the tests) the client's documented defaults are shown, and the page says so.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from include.symphonics.client.ratelimit import PRIORITY_CLASSES, default_classes

log = logging.getLogger(__name__)

SYMPHONICS_CONN_ID = "symphonics_default"


@dataclass(frozen=True)
class QuotaLimits:
    """The quota the client enforces for one client id.

    :param client_id: the client id whose calls are counted (``None``: every client id in ``api_calls``).
    :param requests_per_minute: the partner's per-minute limit.
    :param requests_per_day: the partner's per-day limit.
    :param shares: the most of the day each priority class may use (0..1).
    :param reserves: the part of the day other classes must leave to a class (0..1).
    :param day_reset_utc: seconds after midnight UTC at which the partner's day starts.
    :param breaker_failures: consecutive unavailable calls that open the client's breaker.
    :param breaker_reset: seconds the breaker stays open.
    :param source: where these numbers come from, shown on the page.
    """

    client_id: str | None = None
    requests_per_minute: int = 100
    requests_per_day: int = 5000
    shares: dict[str, float] = field(
        default_factory=lambda: {name: quota.share for name, quota in default_classes().items()}
    )
    reserves: dict[str, float] = field(
        default_factory=lambda: {name: quota.reserve for name, quota in default_classes().items()}
    )
    day_reset_utc: float = 0.0
    breaker_failures: int = 5
    breaker_reset: float = 60.0
    source: str = "the client's defaults (no connection 'symphonics_default')"

    def day_start(self, now: datetime) -> datetime:
        """Start of the partner's day containing ``now``.

        :param now: an aware datetime.
        """
        midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        start = midnight + timedelta(seconds=self.day_reset_utc)
        return start if start <= now else start - timedelta(days=1)

    def class_cap(self, priority_class: str) -> int:
        """Requests a class may send in one day (its share of the day).

        :param priority_class: ``publish``, ``reconcile`` or ``ops``.
        """
        return math.floor(self.requests_per_day * self.shares.get(priority_class, 1.0))

    def as_dict(self) -> dict[str, object]:
        """The limits for the JSON document."""
        return {
            "client_id": self.client_id,
            "requests_per_minute": self.requests_per_minute,
            "requests_per_day": self.requests_per_day,
            "shares": {name: self.shares.get(name, 1.0) for name in PRIORITY_CLASSES},
            "reserves": {name: self.reserves.get(name, 0.0) for name in PRIORITY_CLASSES},
            "breaker_failures": self.breaker_failures,
            "breaker_reset_seconds": self.breaker_reset,
            "source": self.source,
        }


def limits_from_airflow(conn_id: str = SYMPHONICS_CONN_ID) -> QuotaLimits:
    """The limits of the Symphonics connection, or the defaults when it is missing or incomplete.

    :param conn_id: the Symphonics connection.
    """
    from airflow.sdk import BaseHook  # resolved at request time, never at import

    from include.symphonics.hook import settings_from_connection

    try:
        conn = BaseHook.get_connection(conn_id)
        settings = settings_from_connection(
            conn.host, conn.login, conn.password, conn.extra_dejson, schema=conn.schema, port=conn.port
        )
    except Exception as exc:  # any lookup or parse failure: the defaults
        log.info("dashboard: connection %s not usable (%s); showing the default limits", conn_id, type(exc).__name__)
        return QuotaLimits()
    return QuotaLimits(
        client_id=settings.client_id,
        requests_per_minute=settings.requests_per_minute,
        requests_per_day=settings.requests_per_day,
        shares={name: quota.share for name, quota in settings.priority_classes.items()},
        reserves={name: quota.reserve for name, quota in settings.priority_classes.items()},
        day_reset_utc=settings.day_reset_utc,
        breaker_failures=settings.breaker_failures,
        breaker_reset=settings.breaker_reset,
        source=f"connection '{conn_id}'",
    )


#: The dashboard's own connection string (a login in the ``symphonics_dashboard`` role); ``make run`` sets it.
DASHBOARD_DSN_ENV = "SYMPHONICS_DASHBOARD_DSN"


def sync_dsn_from_airflow() -> str:
    """The ``sync`` database's connection string: ``SYMPHONICS_DASHBOARD_DSN`` (the dashboard's least-privilege
    login) when set, else the Airflow connection ``sync_db``."""
    import os

    from include.symphonics.db import SYNC_CONN_ID, dsn

    return os.environ.get(DASHBOARD_DSN_ENV) or dsn(SYNC_CONN_ID)
