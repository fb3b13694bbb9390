"""Refused webhook requests at bounded cost: counted in memory, written in aggregate, sampled, logged sparingly.

A refusal costs no database connection from the receiver's pool and no row of its own. The receiver adds it to
:class:`RefusalLedger`, which keeps, per minute, reason and source address, a count and a few sample requests;
a background thread writes them every few seconds on a connection of its own (``webhook_refusals``, an upsert,
and the samples in ``webhook_rejections``). The WARNING is logged at the first refusal of a reason and source in
a minute, then once more with the minute's count when that minute is written. :class:`SourceLimiter` answers
429 to a source that sent too many refused requests in a window; a validly signed request never asks it.

Memory is bounded too: at most :data:`MAX_SOURCES_PER_MINUTE` sources per minute are told apart (the others
are counted together under :data:`OTHER_SOURCES`), and the limiter tracks at most ``max_sources`` addresses.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from include.symphonics.webhooks.store import Rejection, statement

log = logging.getLogger(__name__)

#: Sources told apart per minute in memory and in ``webhook_refusals``; the rest share one row.
MAX_SOURCES_PER_MINUTE = 1000
#: The source of refusals past :data:`MAX_SOURCES_PER_MINUTE` in one minute.
OTHER_SOURCES = "*"
#: The source when the server does not know it.
UNKNOWN_SOURCE = ""
#: Minutes kept in memory while the database refuses the writes; older counts are dropped (and said so).
MAX_PENDING_MINUTES = 60


@dataclass
class _Bucket:
    status_code: int
    first_at: datetime
    last_at: datetime
    requests: int = 0
    body_bytes: int = 0
    written_requests: int = 0  # already in the database
    written_bytes: int = 0
    sampled: int = 0  # samples taken in all, written or not
    samples: list[Rejection] = field(default_factory=list)  # samples not written yet


_Key = tuple[datetime, str, str]


@dataclass(frozen=True)
class _Delta:
    key: _Key
    status_code: int
    requests: int
    body_bytes: int
    first_at: datetime
    last_at: datetime
    samples: tuple[Rejection, ...]


def _minute(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


class RefusalLedger:
    """Counts of refused requests per minute, reason and source, and a bounded sample of them, in memory until
    :meth:`flush` writes them.

    :param connect: opens a connection to the ``sync`` database (a dedicated one: never the receiver's pool).
    :param samples_per_source: sample requests kept per minute, reason and source.
    :param samples_per_minute: sample requests kept per minute in all (a flood from many sources included).
    :param clock: the current time (tests pass a fixed one).
    """

    def __init__(
        self,
        connect: Callable[[], psycopg.Connection[Any]],
        *,
        samples_per_source: int,
        samples_per_minute: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._connect = connect
        self._samples_per_source = samples_per_source
        self._samples_per_minute = samples_per_minute
        self._clock = clock
        self._buckets: dict[_Key, _Bucket] = {}
        self._sources: dict[datetime, set[str]] = {}
        self._sampled: dict[datetime, int] = {}
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None

    def add(self, rejection: Rejection, *, sample: bool = True) -> None:
        """Count one refused request (and keep it as a sample while the minute's quota of samples lasts).

        :param rejection: the request and why it was refused.
        :param sample: False when the caller stored the sample itself (a validly signed refusal).
        """
        minute = _minute(rejection.received_at)
        source = rejection.remote_addr or UNKNOWN_SOURCE
        with self._lock:
            sources = self._sources.setdefault(minute, set())
            if source not in sources:
                if len(sources) >= MAX_SOURCES_PER_MINUTE:
                    source = OTHER_SOURCES
                else:
                    sources.add(source)
            key = (minute, rejection.reason, source)
            bucket = self._buckets.get(key)
            first = bucket is None
            if bucket is None:
                at = rejection.received_at
                bucket = self._buckets[key] = _Bucket(rejection.status_code, at, at)
            bucket.requests += 1
            bucket.body_bytes += rejection.body_size or 0
            bucket.first_at = min(bucket.first_at, rejection.received_at)
            bucket.last_at = max(bucket.last_at, rejection.received_at)
            if (
                sample
                and bucket.sampled < self._samples_per_source
                and self._sampled.get(minute, 0) < (self._samples_per_minute)
            ):
                bucket.sampled += 1
                bucket.samples.append(rejection)
                self._sampled[minute] = self._sampled.get(minute, 0) + 1
        if first:
            log.warning(
                "webhook %s rejected: %s (%d, %s bytes from %s)%s; more of these this minute are counted and "
                "logged once with their number",
                rejection.request_id,
                rejection.reason,
                rejection.status_code,
                "?" if rejection.body_size is None else rejection.body_size,
                rejection.remote_addr,
                f": {rejection.detail}" if rejection.detail else "",
            )

    def pending(self) -> int:
        """Refused requests counted and not written yet."""
        with self._lock:
            return sum(bucket.requests - bucket.written_requests for bucket in self._buckets.values())

    def flush(self) -> int:
        """Write what was counted since the last flush: one upsert per minute, reason and source, and the new
        samples, in one transaction. Minutes that are over are then forgotten (with a WARNING giving their count
        when more than one request was refused); a failed write keeps everything for the next flush.

        :return: the refused requests written.
        """
        with self._flush_lock:
            now = self._clock()
            with self._lock:
                batch = [
                    _Delta(
                        key=key,
                        status_code=bucket.status_code,
                        requests=bucket.requests - bucket.written_requests,
                        body_bytes=bucket.body_bytes - bucket.written_bytes,
                        first_at=bucket.first_at,
                        last_at=bucket.last_at,
                        samples=tuple(bucket.samples),
                    )
                    for key, bucket in self._buckets.items()
                    if bucket.requests > bucket.written_requests or bucket.samples
                ]
            if batch:
                try:
                    self._write(batch)
                except psycopg.Error as exc:
                    self._close_connection()
                    self._drop_old(now)
                    log.error("webhook refusals not written (kept for the next try): %s", type(exc).__name__)
                    return 0
            with self._lock:
                for delta in batch:
                    bucket = self._buckets[delta.key]
                    bucket.written_requests += delta.requests
                    bucket.written_bytes += delta.body_bytes
                    del bucket.samples[: len(delta.samples)]
                self._forget_closed_minutes(now)
            return sum(delta.requests for delta in batch)

    def _write(self, batch: list[_Delta]) -> None:
        if self._conn is None or self._conn.closed:
            self._conn = self._connect()
        with self._conn.transaction(), self._conn.cursor() as cursor:
            counts = [
                {
                    "minute": delta.key[0],
                    "reason": delta.key[1],
                    "remote_addr": delta.key[2],
                    "status_code": delta.status_code,
                    "requests": delta.requests,
                    "body_bytes": delta.body_bytes,
                    "first_at": delta.first_at,
                    "last_at": delta.last_at,
                }
                for delta in batch
                if delta.requests
            ]
            if counts:
                cursor.executemany(statement("upsert_refusals"), counts)
            samples = [{**asdict(sample), "webhook_event_id": None} for delta in batch for sample in delta.samples]
            if samples:
                cursor.executemany(statement("insert_rejection"), samples)

    def _forget_closed_minutes(self, now: datetime) -> None:
        current = _minute(now)
        for key in [key for key in self._buckets if key[0] < current]:
            bucket = self._buckets[key]
            if bucket.requests > bucket.written_requests or bucket.samples:
                continue
            del self._buckets[key]
            if bucket.requests > 1:
                log.warning(
                    "webhook refusals: %d request(s) refused as %s from %s in the minute of %s UTC",
                    bucket.requests,
                    key[1],
                    key[2] or "an unknown source",
                    key[0].strftime("%Y-%m-%d %H:%M"),
                )
        live = {key[0] for key in self._buckets}
        for minute in [minute for minute in self._sources if minute < current and minute not in live]:
            self._sources.pop(minute, None)
            self._sampled.pop(minute, None)

    def _drop_old(self, now: datetime) -> None:
        oldest = _minute(now) - timedelta(minutes=MAX_PENDING_MINUTES)
        with self._lock:
            old = [key for key in self._buckets if key[0] < oldest]
            dropped = sum(self._buckets[key].requests - self._buckets[key].written_requests for key in old)
            for key in old:
                del self._buckets[key]
        if dropped:
            log.error("webhook refusals: %d count(s) older than %d minutes dropped", dropped, MAX_PENDING_MINUTES)

    def _close_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None

    def close(self) -> None:
        """Write what is left and close the connection."""
        try:
            self.flush()
        finally:
            self._close_connection()


class RefusalFlusher:
    """A daemon thread calling :meth:`RefusalLedger.flush` every ``interval`` seconds, and once when stopped.

    :param ledger: what to flush.
    :param interval: seconds between two writes.
    """

    def __init__(self, ledger: RefusalLedger, interval: float) -> None:
        self._ledger = ledger
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhook-refusal-flusher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._ledger.flush()
            except Exception:  # the thread must outlive any one failure
                log.exception("webhook refusals: flush failed")

    def stop(self) -> None:
        """Stop the thread, then write what is left (once: a second call does nothing)."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join(timeout=self._interval + 5)
        self._ledger.close()


class SourceLimiter:
    """Refused requests per source in a fixed window; a source past the limit is answered 429 until the window
    ends. In memory, per process; only refusals are counted, so a correctly signed request is never limited.

    :param limit: refused requests a source may send per window.
    :param window_seconds: the window's length.
    :param max_sources: sources tracked at most (the least recently refused are forgotten first).
    :param clock: monotonic seconds (tests pass their own).
    """

    def __init__(
        self,
        limit: int,
        window_seconds: float,
        *,
        max_sources: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limit = limit
        self._window = window_seconds
        self._max_sources = max_sources
        self._clock = clock
        self._windows: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, source: str) -> int | None:
        """Seconds until ``source`` may be refused normally again, or None when it is under its limit.

        :param source: the sender's address.
        """
        now = self._clock()
        with self._lock:
            started, count = self._windows.get(source, (now, 0))
            if now - started >= self._window or count < self._limit:
                return None
            return max(1, math.ceil(started + self._window - now))

    def count(self, source: str) -> None:
        """Count one refused request from ``source``.

        :param source: the sender's address.
        """
        now = self._clock()
        with self._lock:
            started, count = self._windows.pop(source, (now, 0))
            if now - started >= self._window:
                started, count = now, 0
            self._windows[source] = (started, count + 1)  # moved to the end: the most recently refused
            while len(self._windows) > self._max_sources:
                self._windows.popitem(last=False)
