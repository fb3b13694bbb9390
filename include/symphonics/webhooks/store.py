"""Writes of the webhook receiver to the ``sync`` database: events, validly signed rejections, status polls.

Every write is one short transaction on a pooled connection, so the receiver answers in a few milliseconds
and leaves the processing to the nightly reconciliation. Statements live in ``sql/`` and bind every value.
Requests without a valid signature never reach the pool: ``refusals.py`` counts them in memory.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import psycopg

from include.symphonics.sql import SqlFolder
from include.symphonics.webhooks.events import WebhookEvent

log = logging.getLogger(__name__)

LATE_WEBHOOK = "late_webhook"
CONNECT_TIMEOUT_SECONDS = 5
_ACQUIRE_TIMEOUT_SECONDS = 10.0


class StoreUnavailable(RuntimeError):
    """The database did not take the write: the sender should retry later (503), nothing was lost by us."""


#: The SQL of ``include/symphonics/sql/webhooks/<name>.sql``.
statement = SqlFolder("webhooks").literal


@dataclass(frozen=True)
class Rejection:
    """A refused request, as sampled in ``symphonics.webhook_rejections`` (and counted in ``webhook_refusals``).

    :param signed_body: the body, only when its signature was valid (never an anonymous sender's body).
    """

    received_at: datetime
    request_id: str
    reason: str
    status_code: int
    remote_addr: str | None
    body_size: int | None
    content_type: str | None
    user_agent: str | None
    signature_valid: bool = False
    detail: str = ""
    signed_body: str | None = None


class ConnectionPool:
    """A small fixed-size pool of psycopg connections (autocommit; transactions are explicit).

    Connections open on first use, so creating the pool touches nothing; a connection that failed is dropped
    and replaced by a new one on the next request.

    :param dsn: libpq string or URL.
    :param size: connections at most.
    """

    def __init__(self, dsn: str, size: int) -> None:
        self._dsn = dsn
        self._slots = threading.BoundedSemaphore(size)
        self._idle: list[psycopg.Connection[Any]] = []
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """Lend a connection for one unit of work.

        :raises StoreUnavailable: when no connection frees up in time or the database fails.
        """
        if not self._slots.acquire(timeout=_ACQUIRE_TIMEOUT_SECONDS):
            raise StoreUnavailable("no database connection free")
        conn: psycopg.Connection[Any] | None = None
        try:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None or conn.closed:
                conn = psycopg.connect(self._dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS)
            yield conn
        except psycopg.Error as exc:
            if conn is not None and not conn.closed and conn.info.transaction_status != 0:
                conn.close()  # unknown state after a failure: never hand it out again
            raise StoreUnavailable(type(exc).__name__) from exc
        finally:
            if conn is not None and not conn.closed:
                with self._lock:
                    self._idle.append(conn)
            self._slots.release()

    def close(self) -> None:
        """Close the idle connections."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def _event_params(event: WebhookEvent, received_at: datetime, secret_used: str, *, late: bool) -> dict[str, Any]:
    params = asdict(event)
    params.update(received_at=received_at, signature_secret_used=secret_used, late=late)
    return params


def record_event(pool: ConnectionPool, event: WebhookEvent, received_at: datetime, secret_used: str) -> bool:
    """Store an on-time event once.

    :param pool: the database.
    :param event: the parsed event.
    :param received_at: when the request arrived.
    :param secret_used: ``current`` or ``previous``.
    :return: True when stored now, False when it was already stored (a redelivery).
    """
    with pool.connection() as conn:
        row = conn.execute(statement("insert_event"), _event_params(event, received_at, secret_used, late=False))
        return row.fetchone() is not None


def record_late_event(pool: ConnectionPool, event: WebhookEvent, secret_used: str, rejection: Rejection) -> bool:
    """Store a validly signed event that came too late (or too early), flagged ``late``, queue a poll of its
    intervention, and keep the rejection, in one transaction: nothing of it is half-recorded.

    :param pool: the database.
    :param event: the parsed event.
    :param secret_used: ``current`` or ``previous``.
    :param rejection: the rejection the sender is answered with (``stale`` or ``future``).
    :return: True when the event is new (and a poll was queued if it names an intervention).
    """
    with pool.connection() as conn, conn.transaction():
        params = _event_params(event, rejection.received_at, secret_used, late=True)
        row = conn.execute(statement("insert_event"), params).fetchone()
        inserted = row is not None
        if row is None:
            row = conn.execute(statement("find_event"), {"dedup_key": event.dedup_key}).fetchone()
        event_id = row[0] if row is not None else None
        if inserted and event.intervention_id is not None:
            conn.execute(
                statement("queue_status_poll"),
                {
                    "intervention_id": event.intervention_id,
                    "external_id": event.external_id,
                    "reason": LATE_WEBHOOK,
                    "queued_at": rejection.received_at,
                    "webhook_event_id": event_id,
                },
            )
        conn.execute(statement("insert_rejection"), {**asdict(rejection), "webhook_event_id": event_id})
    return inserted


def record_rejection(pool: ConnectionPool, rejection: Rejection) -> None:
    """Keep a validly signed refused request (with its body, which explains it). A failure is logged, not
    raised: the sender gets its 4xx either way.

    :param pool: the database.
    :param rejection: what was refused and why.
    """
    try:
        with pool.connection() as conn:
            conn.execute(statement("insert_rejection"), {**asdict(rejection), "webhook_event_id": None})
    except StoreUnavailable as exc:
        log.error("webhook rejection %s could not be counted: %s", rejection.request_id, exc)


def ping(pool: ConnectionPool) -> None:
    """Check the database answers and has the receiver's tables.

    :raises StoreUnavailable: when it does not.
    """
    with pool.connection() as conn:
        conn.execute(statement("ping"))
