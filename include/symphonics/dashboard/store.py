"""The dashboard's store: read-only sessions of the ``sync`` database, and the quota limits, both resolved lazily.

Nothing is read or connected when the app is built: the DSN is resolved on the first read, the limits on the first
request that needs them (then every minute). A read that fails because the database is down, misconfigured or not
migrated yet raises :class:`StoreUnavailable`, which the app answers in one place (its one exception handler).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg

from include.symphonics.dashboard.settings import QuotaLimits
from include.symphonics.db import with_options

#: Seconds the limits read from the Symphonics connection are kept before being read again.
LIMITS_TTL_SECONDS = 60.0
#: Every read of the dashboard: short, and read-only whatever the login may do.
_READ_ONLY_OPTIONS = "-c statement_timeout=10000 -c default_transaction_read_only=on"
#: What a read of the ``sync`` database may raise when it is down, misconfigured or not migrated yet.
_UNAVAILABLE = (psycopg.Error, RuntimeError, ValueError)

T = TypeVar("T")


class StoreUnavailable(Exception):
    """A read of the ``sync`` database failed (down, misconfigured, not migrated, or a value it refuses).

    :param cause: what the read raised (one of :data:`_UNAVAILABLE`).
    """

    def __init__(self, cause: Exception) -> None:
        super().__init__(type(cause).__name__)
        self.cause = cause


class SyncStore:
    """The ``sync`` database's DSN (resolved once) and the limits (re-read every minute), both lazy.

    :param dsn: the ``sync`` database, or a callable resolving it on the first read.
    :param limits: the quota limits, or a callable reading them (re-read every minute).
    """

    def __init__(
        self,
        dsn: str | Callable[[], str],
        limits: QuotaLimits | Callable[[], QuotaLimits],
    ) -> None:
        self._dsn = dsn
        self._limits = limits
        self._lock = threading.Lock()
        self._cached_limits: tuple[float, QuotaLimits] | None = None

    def dsn(self) -> str:
        """The ``sync`` database's connection string, resolved on the first call."""
        with self._lock:
            if callable(self._dsn):
                self._dsn = self._dsn()
            return self._dsn

    def limits(self) -> QuotaLimits:
        """The quota limits, read again when older than :data:`LIMITS_TTL_SECONDS`."""
        if isinstance(self._limits, QuotaLimits):
            return self._limits
        with self._lock:
            if self._cached_limits is None or time.monotonic() - self._cached_limits[0] > LIMITS_TTL_SECONDS:
                self._cached_limits = (time.monotonic(), self._limits())
            return self._cached_limits[1]

    def read(self, query: Callable[[psycopg.Connection[Any]], T]) -> T:
        """``query`` on a read-only session of the ``sync`` database (10 s per statement).

        :param query: reads what it needs from the connection (it may call :meth:`limits`).
        :raises StoreUnavailable: when the database, its DSN or the query fails as an outage would.
        """
        try:
            # The read-only options go after the connection's own (an ``options`` extra is kept, not replaced).
            target = with_options(self.dsn(), _READ_ONLY_OPTIONS)
            with psycopg.connect(target, autocommit=True, connect_timeout=5) as conn:
                return query(conn)
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(exc) from exc
