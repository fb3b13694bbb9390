"""The quota shared by every process of one client id: per minute, per day and per priority class.

Design
------
The state of a client id is one **counter row** in ``symphonics.quota_windows`` (plus one row per priority
class and day in ``symphonics.quota_class_usage``), read and written in a short transaction that holds the row
lock (``SELECT ... FOR UPDATE``). We chose the row over an advisory lock because one decision needs several
numbers at once (the minute's sends, the day's count, the class's count, the server's floor) and must
update them together: the row is both the lock and the data, the lock is released with the transaction even
when a worker dies (no session-level lock left behind by a pooled connection), and no request is ever made
while it is held. pyrate-limiter's PostgreSQL bucket was set aside: it cannot take the server's numbers into
account.

* **Per minute**: a sliding window. The row keeps the send times of the last minute; a request is granted when
  fewer than ``requests_per_minute`` were sent in the last ``60 s + window_margin``, else the caller sleeps
  until the oldest one leaves the window. A sliding window never exceeds the limit whatever window the partner
  uses (any fixed minute is also a 60 s interval); the small margin absorbs network delay between our send and
  the partner's receipt.
* **Per day**: a counter reset at the day boundary (``day_reset_utc``, default midnight UTC).
* **Priority classes** (``publish``, ``reconcile``, ``ops``): each has a ``share`` (the most of the day it may
  use) and a ``reserve`` (what the other classes must leave to it). When its share is spent, or only other
  classes' reserves are left, :class:`QuotaExhausted` is raised at once: nobody sleeps until tomorrow.
* **The partner's numbers** (``X-RateLimit-Remaining`` / ``X-RateLimit-Reset``, and a ``Retry-After``, with no
  cap) only tighten: they set a floor "at most R more until T" that every grant decrements, and a later reply may
  only lower it. Replies from concurrent workers arrive out of order, so a higher Remaining is ignored. The
  document does not say which window the headers describe, so the pair is read as a statement of its own and
  ``Reset`` is moved to our clock by the offset of the partner's ``Date`` header. No request of any process
  leaves before the floor: a floor within ``max_wait`` is waited out, a later one is :class:`QuotaExhausted` at
  once (the run ends with its rest deferred, its ETA the floor's end).
* **The partner's limit** (``X-RateLimit-Limit``) lower than configured is adopted for the window its
  ``X-RateLimit-Reset`` shows (a reset within the minute is the minute's limit, a later one the day's); a limit
  equal or above the configured one gives the configured one back. It is stored in the row, so every process
  and the dashboard see it.

Every request actually sent takes a slot first: retries and token requests included. Clocks are the hosts'
(kept in step by NTP, as Airflow's scheduler needs anyway).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Protocol, TypeVar

import psycopg

from include.symphonics.client.errors import QuotaBusy, QuotaExhausted
from include.symphonics.client.pg import SyncDatabase
from include.symphonics.core.quota_policy import (
    PRIORITY_CLASSES,
    QuotaPolicy,
    check_priority,
)
from include.symphonics.core.redaction import get_logger
from include.symphonics.sql import SqlFolder

log = get_logger(__name__)

T = TypeVar("T")


@dataclass
class QuotaState:
    """What the counter row holds for one client id."""

    recent_sends: list[float] = field(default_factory=list)
    day_start: float = 0.0
    day_used: int = 0
    class_used: dict[str, int] = field(default_factory=dict)
    server_remaining: int | None = None
    server_reset_at: float | None = None
    partner_per_minute: int | None = None
    partner_per_day: int | None = None


@dataclass(frozen=True)
class Decision:
    """The answer to "may I send one request now?".

    :param granted: a slot was taken.
    :param wait: seconds to wait before asking again (when not granted).
    :param exhausted: why the day is spent for this class (then ``QuotaExhausted``), else ``None``.
    :param resets_at: when the day window starts again (with ``exhausted``).
    :param class_left: requests the class may still send today (with ``granted``).
    :param partner_floor: ``exhausted`` is the partner's floor (a ``Retry-After`` or a ``Reset``), not a spent day.
    """

    granted: bool
    wait: float = 0.0
    exhausted: str | None = None
    resets_at: float | None = None
    class_left: int | None = None
    partner_floor: bool = False


def decide(policy: QuotaPolicy, state: QuotaState, priority: str, now: float) -> Decision:
    """Grant one request to ``priority`` at ``now`` if every limit allows it, updating ``state``.

    Pure arithmetic: the storage calls it inside its lock.

    :param policy: the limits.
    :param state: the client id's counters (changed in place).
    :param priority: the caller's priority class.
    :param now: epoch seconds.
    """
    policy = policy.with_partner_limits(state.partner_per_minute, state.partner_per_day)
    next_day = _start_day(policy, state, now)
    spent = _day_spent(policy, state, priority, next_day)
    if spent is not None:
        return spent
    floor = _partner_floor_wait(policy, state, now)
    if isinstance(floor, Decision):
        return floor
    waits = [wait for wait in (floor, _minute_wait(policy, state, now)) if wait is not None]
    if waits:
        return Decision(False, wait=max(0.0, *waits))
    return _grant(policy, state, priority, now)


def _start_day(policy: QuotaPolicy, state: QuotaState, now: float) -> float:
    """Reset the day's counters when ``now`` is in a new day; return when the next one starts."""
    day_start = policy.day_start(now)
    if state.day_start != day_start:
        state.day_start, state.day_used, state.class_used = day_start, 0, {}
    return day_start + policy.day_length


def _day_spent(policy: QuotaPolicy, state: QuotaState, priority: str, next_day: float) -> Decision | None:
    """The refusal when the class's share is spent, or the day's rest is other classes' reserves."""
    used = state.class_used.get(priority, 0)
    if used >= policy.class_cap(priority):
        return Decision(
            False, exhausted=f"the {priority} share of the day is spent ({used} requests)", resets_at=next_day
        )
    reserved_for_others = sum(
        max(0, policy.class_reserve(other) - state.class_used.get(other, 0))
        for other in PRIORITY_CLASSES
        if other != priority
    )
    if state.day_used + reserved_for_others >= policy.requests_per_day:
        return Decision(
            False,
            exhausted=(
                f"the day's quota is spent ({state.day_used} sent, {reserved_for_others} kept for other classes)"
            ),
            resets_at=next_day,
        )
    return None


def _partner_floor_wait(policy: QuotaPolicy, state: QuotaState, now: float) -> Decision | float | None:
    """The wait the partner's floor asks for (a passed floor is dropped), or the refusal when it is too long."""
    if state.server_reset_at is not None and state.server_reset_at <= now:
        state.server_remaining = state.server_reset_at = None
    if state.server_remaining is None or state.server_reset_at is None or state.server_remaining > 0:
        return None
    server_wait = state.server_reset_at - now
    if server_wait > policy.max_wait:
        return Decision(
            False,
            exhausted=(
                f"the partner asked us to wait {server_wait:.0f} s (Retry-After or X-RateLimit-Reset), more "
                f"than the {policy.max_wait:g} s a run may wait"
            ),
            resets_at=state.server_reset_at,
            partner_floor=True,
        )
    return server_wait


def _minute_wait(policy: QuotaPolicy, state: QuotaState, now: float) -> float | None:
    """The wait until the sliding minute has room (sends older than the window are dropped), or ``None``."""
    window = policy.minute_length + policy.window_margin
    state.recent_sends = sorted(sent for sent in state.recent_sends if sent > now - window)
    if len(state.recent_sends) >= policy.requests_per_minute:
        return state.recent_sends[-policy.requests_per_minute] + window - now
    return None


def _grant(policy: QuotaPolicy, state: QuotaState, priority: str, now: float) -> Decision:
    """Take the slot: count it in the minute, the day, the class and the partner's floor."""
    used = state.class_used.get(priority, 0)
    state.recent_sends.append(now)
    state.day_used += 1
    state.class_used[priority] = used + 1
    if state.server_remaining is not None:
        state.server_remaining -= 1
    return Decision(True, class_left=max(0, policy.class_cap(priority) - used - 1))


def observe_server(state: QuotaState, remaining: int, reset_at: float, now: float) -> bool:
    """Fold the partner's "``remaining`` requests left until ``reset_at``" into ``state``; only ever tighter.

    :param state: the client id's counters (changed in place).
    :param remaining: ``X-RateLimit-Remaining`` (0 after a 429).
    :param reset_at: when that count resets, on our clock.
    :param now: epoch seconds.
    :return: whether the state changed.
    """
    if reset_at <= now or remaining < 0:
        return False
    current_remaining, current_reset = state.server_remaining, state.server_reset_at
    if (
        current_remaining is not None
        and current_reset is not None
        and current_reset > now
        and (remaining > current_remaining or (remaining == current_remaining and reset_at <= current_reset))
    ):
        return False  # a looser (or equal) statement than the floor we hold: out of order, or older
    state.server_remaining, state.server_reset_at = remaining, reset_at
    return True


def observe_partner_limit(
    state: QuotaState, policy: QuotaPolicy, limit: int, reset_at: float, now: float
) -> tuple[str, int | None] | None:
    """Adopt the partner's ``X-RateLimit-Limit`` for the window its ``X-RateLimit-Reset`` shows.

    A reset within the minute (plus the window margin) is the minute's limit, a later one the day's. A limit
    lower than configured is kept; one equal or above gives the configured limit back.

    :param state: the client id's counters (changed in place).
    :param policy: the configured limits.
    :param limit: ``X-RateLimit-Limit``.
    :param reset_at: ``X-RateLimit-Reset`` on our clock.
    :param now: epoch seconds.
    :return: ``(window, adopted limit or None)`` when the state changed, else ``None``.
    """
    if limit < 1 or reset_at <= now:
        return None
    if reset_at - now <= policy.minute_length + policy.window_margin:
        adopted = limit if limit < policy.requests_per_minute else None
        if adopted == state.partner_per_minute:
            return None
        state.partner_per_minute = adopted
        return ("minute", adopted)
    adopted = limit if limit < policy.requests_per_day else None
    if adopted == state.partner_per_day:
        return None
    state.partner_per_day = adopted
    return ("day", adopted)


class QuotaStore(Protocol):
    """Where the counters of a client id live; ``transact`` runs ``step`` on them under an exclusive lock."""

    def transact(self, client_id: str, policy: QuotaPolicy, step: Callable[[QuotaState], T]) -> T: ...


class InMemoryQuotaStore:
    """Counters for one process (scripts, unit tests)."""

    def __init__(self) -> None:
        self._states: dict[str, QuotaState] = {}
        self._lock = threading.Lock()

    def transact(self, client_id: str, policy: QuotaPolicy, step: Callable[[QuotaState], T]) -> T:
        with self._lock:
            return step(self._states.setdefault(client_id, QuotaState()))


def _ts(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, tz=UTC)


_SQL = SqlFolder("client")


def _read_state(conn: psycopg.Connection, client_id: str) -> QuotaState:
    """The counters of ``client_id``, their row created if need be and locked until the transaction ends."""
    conn.execute(_SQL.query("quota_window_ensure"), {"client_id": client_id})
    row = conn.execute(_SQL.query("quota_window_lock"), {"client_id": client_id}).fetchone()
    assert row is not None
    recent, day_start, day_used, server_remaining, server_reset_at, per_minute, per_day = row
    state = QuotaState(
        recent_sends=list(recent or []),
        day_start=day_start.timestamp() if day_start else 0.0,
        day_used=day_used,
        server_remaining=server_remaining,
        server_reset_at=server_reset_at.timestamp() if server_reset_at else None,
        partner_per_minute=per_minute,
        partner_per_day=per_day,
    )
    if day_start is not None:
        state.class_used = {
            name: used
            for name, used in conn.execute(
                _SQL.query("quota_class_usage_read"), {"client_id": client_id, "day_start": day_start}
            )
        }
    return state


def _write_state(
    conn: psycopg.Connection, client_id: str, state: QuotaState, class_used_before: dict[str, int]
) -> None:
    """Write the counters of ``client_id`` back: the row, and each class whose count changed."""
    conn.execute(
        _SQL.query("quota_window_write"),
        {
            "client_id": client_id,
            "recent_sends": state.recent_sends,
            "day_start": _ts(state.day_start),
            "day_used": state.day_used,
            "server_remaining": state.server_remaining,
            "server_reset_at": _ts(state.server_reset_at),
            "partner_per_minute": state.partner_per_minute,
            "partner_per_day": state.partner_per_day,
        },
    )
    for name, used in state.class_used.items():
        if used != class_used_before.get(name):
            conn.execute(
                _SQL.query("quota_class_usage_write"),
                {
                    "client_id": client_id,
                    "day_start": _ts(state.day_start),
                    "priority_class": name,
                    "used": used,
                },
            )


class PostgresQuotaStore:
    """The counters in ``symphonics.quota_windows`` and ``symphonics.quota_class_usage`` of the ``sync`` DB.

    :param dsn: the ``sync`` database.
    """

    def __init__(self, dsn: str) -> None:
        self._db = SyncDatabase(dsn)

    def transact(self, client_id: str, policy: QuotaPolicy, step: Callable[[QuotaState], T]) -> T:
        with self._db.transaction() as conn:
            state = _read_state(conn, client_id)
            # A copy to compare with: a step that changed nothing (a refusal, a stale header) writes nothing.
            before = replace(state, recent_sends=list(state.recent_sends), class_used=dict(state.class_used))
            result = step(state)
            if state != before:
                _write_state(conn, client_id, state, before.class_used)
            return result

    def close(self) -> None:
        """Close the store's database connection."""
        self._db.close()


class QuotaLimiter:
    """Takes one slot of the shared quota before every request.

    :param client_id: whose quota.
    :param policy: the limits.
    :param store: where the counters live (default: this process only).
    :param clock: epoch seconds.
    :param sleep: how to wait (tests pass a fake).
    :param on_class_left: called with the class and what it may still send today after each slot taken (metrics).
    """

    def __init__(
        self,
        client_id: str,
        policy: QuotaPolicy | None = None,
        store: QuotaStore | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], object] = time.sleep,
        on_class_left: Callable[[str, int], None] | None = None,
    ) -> None:
        self._on_class_left = on_class_left
        self.client_id = client_id
        self.policy = policy or QuotaPolicy()
        self.store: QuotaStore = store if store is not None else InMemoryQuotaStore()
        self._clock = clock
        self._sleep = sleep

    def acquire(self, priority: str, *, before_take: Callable[[], object] | None = None, wait: bool = True) -> float:
        """Wait for a slot under every limit and take it.

        :param priority: the caller's priority class.
        :param before_take: called after each wait, before the next try to take a slot; what it raises ends the
            wait with no slot taken (the client's guard: a kill switch turned on during a long wait).
        :param wait: ``False``: never sleep; when no slot is free now, raise :class:`QuotaBusy` (a connection
            test answers at once).
        :return: seconds spent waiting.
        :raises QuotaExhausted: at once when the class's share (or the day) is spent, or the partner's floor
            ends later than the policy's ``max_wait``.
        :raises QuotaBusy: when ``wait`` is ``False`` and no slot is free now.
        """
        check_priority(priority)
        waited = 0.0
        while True:
            decision = self.store.transact(
                self.client_id, self.policy, lambda state: decide(self.policy, state, priority, self._clock())
            )
            if decision.granted:
                if self._on_class_left is not None and decision.class_left is not None:
                    self._on_class_left(priority, decision.class_left)
                return waited
            if decision.exhausted is not None and not wait and decision.partner_floor:
                # For a caller that never waits, a far floor is a busy quota like a near one, not a spent day.
                raise QuotaBusy((decision.resets_at or 0.0) - self._clock(), priority=priority)
            if decision.exhausted is not None:
                if self._on_class_left is not None:
                    self._on_class_left(priority, 0)
                raise QuotaExhausted(
                    f"Symphonics quota exhausted for class {priority!r}: {decision.exhausted}",
                    priority=priority,
                    resets_at=decision.resets_at,
                    daily_cap=self.policy.class_cap(priority),
                )
            if not wait:
                raise QuotaBusy(decision.wait, priority=priority)
            # A few ms of jitter keep waiting workers from all asking at the same instant.
            pause = decision.wait + random.uniform(0.001, 0.02)  # noqa: S311 - jitter, not cryptography
            waited += pause
            self._sleep(pause)
            if before_take is not None:
                before_take()

    def observe(self, remaining: int, reset_at: float) -> None:
        """Tighten the quota with the partner's numbers (see :func:`observe_server`).

        :param remaining: requests the partner says are left.
        :param reset_at: when, on our clock, that count resets.
        """
        changed = self.store.transact(
            self.client_id,
            self.policy,
            lambda state: observe_server(state, remaining, reset_at, self._clock()),
        )
        if changed:
            log.debug("Symphonics quota tightened by the partner: %s left until %.0f", remaining, reset_at)

    def adopt_partner_limit(self, limit: int, reset_at: float) -> None:
        """Adopt the partner's ``X-RateLimit-Limit`` when lower than configured (see :func:`observe_partner_limit`).

        Logged once, by the process whose reply changed the shared row.

        :param limit: ``X-RateLimit-Limit``.
        :param reset_at: ``X-RateLimit-Reset``, on our clock.
        """
        change = self.store.transact(
            self.client_id,
            self.policy,
            lambda state: observe_partner_limit(state, self.policy, limit, reset_at, self._clock()),
        )
        if change is None:
            return
        window, adopted = change
        configured = self.policy.requests_per_minute if window == "minute" else self.policy.requests_per_day
        if adopted is None:
            log.warning(
                "Symphonics states a per-%s limit of %s again: the configured %s applies", window, limit, configured
            )
        else:
            log.warning(
                "Symphonics states a per-%s limit of %s, lower than the configured %s: adopted for every process",
                window,
                adopted,
                configured,
            )
