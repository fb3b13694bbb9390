"""The completion watcher: an Airflow asset watcher that starts a publish run seconds after a completion.

A :class:`CompletionWatcher` runs in the triggerer. Every few seconds it reads, with psycopg's async driver,
the next rows of the app's ``(updated_at, id)`` index after its position (a bounded range scan, never a scan
of the table) and fires one event when one of them is a row the publish pipeline would act on: a completed
intervention (new, or a published one whose documents or fields changed) or one cancelled after completion.
Scheduled and in-progress jobs, and jobs cancelled before completion, never start a run.

The position only moves forward and is kept in the ``sync`` database (``symphonics.completion_watchers``,
with what the probes cost, for the dashboard and ``bench/freshness.py``), so a row that stays completed is
signalled once, across triggerer restarts too. The event is yielded before the position is written: a
triggerer lost between the two signals the same rows again (one more, idempotent run), it never loses them.
A row committed late with an ``updated_at`` below the position is not signalled: the next run's extraction
re-reads its overlap (``SYMPHONICS_PUBLISH_OVERLAP_SECONDS``) and the schedule is the safety net.

The watcher never calls the partner and holds no secret in its kwargs: connection ids only, resolved when it
runs, so its kwargs (whose hash is the trigger's identity) are the same at every parse.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from include.symphonics.db import APP_CONN_ID, SYNC_CONN_ID
from include.symphonics.publish.settings import PIPELINE

log = logging.getLogger(__name__)

WATCHER_NAME = "symphonics_completions"
CLASSPATH = "include.symphonics.publish.watcher.CompletionWatcher"

#: Statuses whose rows the pipeline acts on; ``cancelled`` only when the row had been completed.
ACTIONABLE_STATUS = "completed"
CANCELLED_STATUS = "cancelled"

# After a failure the probe waits longer each time (doubling, up to this), so a database that is down is
# asked a few times a minute, not every poll interval.
MAX_BACKOFF_SECONDS = 60.0
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ProbedRow:
    """What the probe reads of one app row (no personal data).

    :param updated_at: the row's ``updated_at``.
    :param id: the row's primary key (the index's tie-breaker).
    :param status: the app's status.
    :param was_completed: whether the row has a completion date (completed, or cancelled after completion).
    """

    updated_at: datetime
    id: int
    status: str
    was_completed: bool

    @property
    def position(self) -> tuple[datetime, int]:
        """The row's key on the ``(updated_at, id)`` index."""
        return (self.updated_at, self.id)

    @property
    def actionable(self) -> bool:
        """Whether the publish pipeline would act on this row."""
        return self.status == ACTIONABLE_STATUS or (self.status == CANCELLED_STATUS and self.was_completed)


@dataclass(frozen=True)
class Decision:
    """The watcher's "what is new" decision over one probe.

    :param position: where the next probe starts (the last row examined, or the old position).
    :param actionable: the examined rows the pipeline would act on.
    :param examined: the rows the probe returned.
    :param oldest: ``updated_at`` of the oldest actionable row (the latency's start), None if none.
    """

    position: tuple[datetime, int]
    actionable: int
    examined: int
    oldest: datetime | None = None

    @property
    def fire(self) -> bool:
        """Whether to signal the asset: something the pipeline would act on lies past the old position."""
        return self.actionable > 0


def decide(position: tuple[datetime, int], rows: Sequence[ProbedRow]) -> Decision:
    """What is new past ``position`` in a probe's ``rows``.

    Rows at or below ``position`` are ignored (they were examined before); the position moves to the last row
    examined even when none is actionable, so edits of scheduled jobs are passed over once and never again.

    :param position: the watcher's position before the probe.
    :param rows: the probe's rows, in ``(updated_at, id)`` order.
    """
    fresh = [row for row in rows if row.position > position]
    actionable = [row for row in fresh if row.actionable]
    return Decision(
        position=max((row.position for row in fresh), default=position),
        actionable=len(actionable),
        examined=len(fresh),
        oldest=min((row.updated_at for row in actionable), default=None),
    )


@dataclass
class ProbeStats:
    """The watcher's counters, persisted with its position (``symphonics.completion_watchers``)."""

    probes: int = 0
    probe_ms_total: float = 0.0
    signals: int = 0
    errors: int = 0
    last_probe_at: datetime | None = None
    last_probe_ms: float | None = None
    last_probe_rows: int | None = None
    last_signal_at: datetime | None = None
    last_signal_rows: int | None = None
    last_error_at: datetime | None = None
    last_error: str | None = None


def describe_error(exc: BaseException) -> str:
    """A one-line reason for the log and the dashboard: the error's class and first line, never a DSN."""
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    # libpq messages name the host and the database, never the password; keep them short all the same.
    return f"{type(exc).__name__}: {first_line[:200]}" if first_line else type(exc).__name__


class CompletionWatcher(BaseEventTrigger):
    """Fires when the app has a completion (or a change of a completed job) past the last signalled point.

    :param app_conn_id: the app's database (only read).
    :param sync_conn_id: the ``sync`` database, where the watcher keeps its position and counters.
    :param poll_interval: seconds between two probes.
    :param max_rows: the most index entries one probe reads.
    :param watcher: the watcher's name (its row in ``symphonics.completion_watchers``).
    """

    def __init__(
        self,
        *,
        app_conn_id: str = APP_CONN_ID,
        sync_conn_id: str = SYNC_CONN_ID,
        poll_interval: float = 2.0,
        max_rows: int = 500,
        watcher: str = WATCHER_NAME,
    ) -> None:
        super().__init__()
        if poll_interval <= 0:
            raise ValueError(f"poll_interval must be positive, got {poll_interval!r}")
        if max_rows < 1:
            raise ValueError(f"max_rows must be at least 1, got {max_rows!r}")
        self.app_conn_id = app_conn_id
        self.sync_conn_id = sync_conn_id
        self.poll_interval = float(poll_interval)
        self.max_rows = int(max_rows)
        self.watcher = watcher

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """The class path and the kwargs: plain, stable values (their hash is the trigger's identity)."""
        return (
            CLASSPATH,
            {
                "app_conn_id": self.app_conn_id,
                "sync_conn_id": self.sync_conn_id,
                "poll_interval": self.poll_interval,
                "max_rows": self.max_rows,
                "watcher": self.watcher,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Probe forever; yield one event per probe that found something the pipeline would act on."""
        from include.symphonics.db import adsn

        probe = CompletionProbe(
            watcher=self.watcher,
            app_dsn=lambda: adsn(self.app_conn_id),
            sync_dsn=lambda: adsn(self.sync_conn_id),
            max_rows=self.max_rows,
        )
        backoff = self.poll_interval
        try:
            while True:
                try:
                    decision = await probe.probe()
                except Exception as exc:  # a database down, a network cut: logged, retried, never fatal
                    await probe.failed(exc)
                    backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                    await asyncio.sleep(backoff)
                    continue
                if probe.recovered():
                    log.warning("completion watcher %s: the databases answer again", self.watcher)
                backoff = self.poll_interval
                if decision.fire:
                    yield TriggerEvent(probe.event_payload(decision))
                try:
                    await probe.commit(decision)
                except Exception as exc:  # the position moved in memory: nothing is signalled twice
                    await probe.failed(exc)
                await asyncio.sleep(self.poll_interval)
        finally:
            await probe.close()


class CompletionProbe:
    """One watcher's connections, position and counters; :class:`CompletionWatcher` drives it.

    :param watcher: the watcher's name.
    :param app_dsn: coroutine factory giving the app's libpq string (resolved at each (re)connection).
    :param sync_dsn: coroutine factory giving the ``sync`` database's libpq string.
    :param max_rows: the most index entries one probe reads.
    :param pipeline: whose high-water mark a new watcher starts from.
    """

    def __init__(
        self,
        *,
        watcher: str,
        app_dsn: Callable[[], Awaitable[str]],
        sync_dsn: Callable[[], Awaitable[str]],
        max_rows: int,
        pipeline: str = PIPELINE,
    ) -> None:
        self.watcher = watcher
        self._app_dsn = app_dsn
        self._sync_dsn = sync_dsn
        self.max_rows = max_rows
        self.pipeline = pipeline
        self.position: tuple[datetime, int] | None = None
        self.stats = ProbeStats()
        self._app: Any = None
        self._sync: Any = None
        self._failing = False
        self._was_failing = False

    async def _connect(self) -> None:
        import psycopg

        await self._connect_sync()
        if self._app is None or self._app.closed:
            self._app = await psycopg.AsyncConnection.connect(await self._app_dsn(), autocommit=True)
            await self._app.set_read_only(True)

    async def _connect_sync(self) -> None:
        import psycopg

        if self._sync is None or self._sync.closed:
            self._sync = await psycopg.AsyncConnection.connect(await self._sync_dsn(), autocommit=True)

    async def _load_position(self) -> tuple[datetime, int]:
        from include.symphonics.publish.sqlfiles import query

        cursor = await self._sync.execute(
            query("watcher_state_read"), {"watcher": self.watcher, "pipeline": self.pipeline}
        )
        row = await cursor.fetchone()
        if row is not None:
            position_at, position_id, probes, probe_ms_total, signals, errors, known = row
            if known:
                self.stats.probes, self.stats.probe_ms_total = int(probes), float(probe_ms_total)
                self.stats.signals, self.stats.errors = int(signals), int(errors)
            return (position_at, int(position_id))
        # Neither a position nor a publish mark: the pipeline never ran; its first (scheduled) run reads
        # everything, so the watcher starts at the app's newest row.
        cursor = await self._app.execute(query("watcher_newest"))
        newest = await cursor.fetchone()
        return (newest[0], int(newest[1])) if newest else (_EPOCH, 0)

    async def probe(self) -> Decision:
        """Read the next rows after the position and decide; the position moves only in :meth:`commit`."""
        from include.symphonics.publish.sqlfiles import query

        await self._connect()
        if self.position is None:
            self.position = await self._load_position()
        started = time.perf_counter()
        cursor = await self._app.execute(
            query("watcher_probe"),
            {"after_at": self.position[0], "after_id": self.position[1], "max_rows": self.max_rows},
        )
        rows = [ProbedRow(row[0], int(row[1]), str(row[2]), bool(row[3])) for row in await cursor.fetchall()]
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        decision = decide(self.position, rows)
        self.stats.probes += 1
        self.stats.probe_ms_total += elapsed_ms
        self.stats.last_probe_at = datetime.now(UTC)
        self.stats.last_probe_ms = elapsed_ms
        self.stats.last_probe_rows = decision.examined
        self._was_failing, self._failing = self._failing, False
        return decision

    def recovered(self) -> bool:
        """Whether the probe that just succeeded follows a failed one."""
        return self._was_failing

    def event_payload(self, decision: Decision) -> dict[str, Any]:
        """The asset event's extra: counts and times, no personal data."""
        return {
            "watcher": self.watcher,
            "actionable": decision.actionable,
            "examined": decision.examined,
            "oldest_updated_at": decision.oldest.isoformat() if decision.oldest else None,
            "position": f"{decision.position[0].isoformat()}#{decision.position[1]}",
        }

    async def commit(self, decision: Decision) -> None:
        """Move the position past the probe's rows, then record it and the probe (one statement on ``sync``)."""
        self.position = decision.position
        if decision.fire:
            self.stats.signals += 1
            self.stats.last_signal_at = datetime.now(UTC)
            self.stats.last_signal_rows = decision.actionable
        await self._write()

    async def failed(self, exc: BaseException) -> None:
        """Log a failure once per outage (then at debug level), count it, drop the connections."""
        reason = describe_error(exc)
        if not self._failing:
            log.warning("completion watcher %s: probe failed, retrying with backoff: %s", self.watcher, reason)
        else:
            log.debug("completion watcher %s: still failing: %s", self.watcher, reason)
        self._failing = True
        self.stats.errors += 1
        self.stats.last_error_at = datetime.now(UTC)
        self.stats.last_error = reason
        await self.close()
        # Record the failure for the dashboard when the sync database still answers (the app's may not).
        try:
            await self._connect_sync()
            await self._write()
        except Exception as exc:
            log.debug("completion watcher %s: could not record the failure: %s", self.watcher, describe_error(exc))
            await self.close()

    async def _write(self) -> None:
        from include.symphonics.publish.sqlfiles import query

        if self.position is None:
            return
        stats = self.stats
        await self._sync.execute(
            query("watcher_state_write"),
            {
                "watcher": self.watcher,
                "position_at": self.position[0],
                "position_id": self.position[1],
                "probes": stats.probes,
                "probe_ms_total": stats.probe_ms_total,
                "last_probe_at": stats.last_probe_at,
                "last_probe_ms": stats.last_probe_ms,
                "last_probe_rows": stats.last_probe_rows,
                "signals": stats.signals,
                "last_signal_at": stats.last_signal_at,
                "last_signal_rows": stats.last_signal_rows,
                "errors": stats.errors,
                "last_error_at": stats.last_error_at,
                "last_error": stats.last_error,
            },
        )

    async def close(self) -> None:
        """Close both connections (quietly: they may already be broken)."""
        for conn in (self._app, self._sync):
            if conn is not None and not conn.closed:
                # A broken connection has nothing left to close.
                with contextlib.suppress(Exception):
                    await conn.close()
        self._app = self._sync = None
