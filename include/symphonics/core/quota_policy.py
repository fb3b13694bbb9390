"""The quota policy of one client id: the partner's limits and each priority class's share of the day.

Pure arithmetic and data, importing nothing above the ground floor: the client's limiter enforces it, the
dashboard compares usage with it, and the settings model of the connection builds it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from include.symphonics.core.limits import (
    PRIORITY_RESERVES,
    PRIORITY_SHARES,
    REQUESTS_PER_DAY,
    REQUESTS_PER_MINUTE,
)

PUBLISH = "publish"
RECONCILE = "reconcile"
OPS = "ops"
#: The priority classes, in the order a caller states them.
PRIORITY_CLASSES: tuple[str, ...] = (PUBLISH, RECONCILE, OPS)

MINUTE = 60.0
DAY = 86_400.0
#: The most a run waits for the partner's floor (a ``Retry-After`` or a far ``X-RateLimit-Reset``) by default.
MAX_QUOTA_WAIT = 60.0

#: The ``operation`` recorded for a connection test's request: an ops call that checks our settings and says
#: nothing of the partner's health (the dashboard's partner panels leave it out; ``quota_daily`` counts it apart).
CHECK_OPERATION = "check_connection"


@dataclass(frozen=True)
class ClassQuota:
    """The part of the day a priority class may use.

    :param share: the most of ``requests_per_day`` this class may spend (0..1).
    :param reserve: the part of the day other classes must leave to this one (0..1).
    """

    share: float = 1.0
    reserve: float = 0.0

    def __post_init__(self) -> None:
        if not (0.0 <= self.share <= 1.0 and 0.0 <= self.reserve <= 1.0):
            raise ValueError("share and reserve are fractions of the day, between 0 and 1")


def default_classes() -> dict[str, ClassQuota]:
    """Publishing gets most of the day; reconciliation a bounded part; ops (health checks) a small reserve."""
    return {
        name: ClassQuota(share=PRIORITY_SHARES[name], reserve=PRIORITY_RESERVES.get(name, 0.0))
        for name in PRIORITY_CLASSES
    }


@dataclass(frozen=True)
class QuotaPolicy:
    """The limits of one client id.

    :param requests_per_minute: the partner's per-minute limit (100 by its document).
    :param requests_per_day: the partner's per-day limit (5,000 by its document).
    :param classes: the share and reserve of each priority class.
    :param day_reset_utc: seconds after midnight UTC at which the day window starts again.
    :param window_margin: seconds added to the minute window, for network delay.
    :param max_wait: the most a run may wait for the partner's floor (a ``Retry-After``, or ``Remaining: 0``
        until a ``Reset``): a floor ending sooner is waited out, a later one is reported exhausted at once.
    :param time_scale: partner seconds per real second: 1 in production; a sandbox run with ``time_scale`` 60
        has one-second minutes, and the windows here must match.
    """

    requests_per_minute: int = REQUESTS_PER_MINUTE
    requests_per_day: int = REQUESTS_PER_DAY
    classes: Mapping[str, ClassQuota] = field(default_factory=default_classes)
    day_reset_utc: float = 0.0
    window_margin: float = 0.25
    max_wait: float = MAX_QUOTA_WAIT
    time_scale: float = 1.0

    def __post_init__(self) -> None:
        if self.requests_per_minute < 1 or self.requests_per_day < 1:
            raise ValueError("requests_per_minute and requests_per_day must be at least 1")
        unknown = set(self.classes) - set(PRIORITY_CLASSES)
        if unknown:
            raise ValueError(f"unknown priority classes {sorted(unknown)}; known: {', '.join(PRIORITY_CLASSES)}")
        if self.time_scale <= 0:
            raise ValueError("time_scale must be positive")
        if self.max_wait < 0:
            raise ValueError("max_wait cannot be negative")
        if sum(q.reserve for q in self.classes.values()) > 1.0:
            raise ValueError("the reserves of the priority classes add up to more than the day")

    def with_partner_limits(self, per_minute: int | None, per_day: int | None) -> QuotaPolicy:
        """These limits lowered to what the partner states (``X-RateLimit-Limit``), never raised.

        :param per_minute: the partner's per-minute limit, if it stated a lower one.
        :param per_day: the partner's per-day limit, if it stated a lower one.
        """
        minute = min(self.requests_per_minute, per_minute or self.requests_per_minute)
        day = min(self.requests_per_day, per_day or self.requests_per_day)
        if (minute, day) == (self.requests_per_minute, self.requests_per_day):
            return self
        return replace(self, requests_per_minute=minute, requests_per_day=day)

    def quota_of(self, priority: str) -> ClassQuota:
        """The share and reserve of ``priority`` (a class left out of ``classes`` may use the whole day)."""
        check_priority(priority)
        return self.classes.get(priority, ClassQuota())

    def class_cap(self, priority: str) -> int:
        """Requests ``priority`` may send per day."""
        return math.floor(self.quota_of(priority).share * self.requests_per_day)

    def class_reserve(self, priority: str) -> int:
        """Requests kept for ``priority`` per day."""
        return math.ceil(self.quota_of(priority).reserve * self.requests_per_day)

    @property
    def minute_length(self) -> float:
        """Real seconds of the partner's minute."""
        return MINUTE / self.time_scale

    @property
    def day_length(self) -> float:
        """Real seconds of the partner's day."""
        return DAY / self.time_scale

    def day_start(self, now: float) -> float:
        """Epoch seconds at which the day window holding ``now`` began."""
        offset = self.day_reset_utc / self.time_scale
        return math.floor((now - offset) / self.day_length) * self.day_length + offset


def check_priority(priority: str) -> None:
    """Refuse a priority class that does not exist (a typo would otherwise escape every share).

    :param priority: the caller's priority class.
    """
    if priority not in PRIORITY_CLASSES:
        raise ValueError(f"unknown priority class {priority!r}; use one of {', '.join(PRIORITY_CLASSES)}")
