"""The completion watcher's run() against the real app and sync databases (embedded PostgreSQL), in this process.

What fires, what does not, what is kept across a restart, and an app database that goes away and comes back.
The end-to-end behaviour under a real scheduler and triggerer is in ``test_watcher_e2e.py``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import psycopg
import pytest

from include.symphonics.publish.watcher import CompletionWatcher
from include.symphonics_demo.live import complete, schedule_copies

pytestmark = pytest.mark.integration

WATCHER = "test_completions"


@pytest.fixture
def app(stack: Any, sync_dsn: str, fresh_app_db: Callable[[], str], monkeypatch: pytest.MonkeyPatch) -> str:
    """A seeded app database behind ``app_db``, and no watcher state."""
    from tests.fixtures.stack import airflow_connection_json

    app_dsn = fresh_app_db()
    database = psycopg.conninfo.conninfo_to_dict(app_dsn).get("dbname")
    monkeypatch.setenv("AIRFLOW_CONN_APP_DB", airflow_connection_json(stack.server, str(database)))
    with psycopg.connect(sync_dsn) as conn:
        conn.execute("DELETE FROM symphonics.completion_watchers WHERE watcher = %s", (WATCHER,))
        conn.execute("TRUNCATE symphonics.publish_watermarks")
    return app_dsn


def _templates(app_dsn: str) -> list[int]:
    with psycopg.connect(app_dsn) as conn:
        rows = conn.execute("SELECT id FROM interventions WHERE status = 'completed' ORDER BY id LIMIT 3").fetchall()
    return [int(row[0]) for row in rows]


class Running:
    """A watcher's run() driven in a background event loop; its events collected as they come."""

    def __init__(self, watcher: CompletionWatcher) -> None:
        self.watcher = watcher
        self.events: list[dict[str, Any]] = []
        self.loop = asyncio.new_event_loop()
        self._task: asyncio.Task[None] | None = None

    async def _consume(self) -> None:
        stream: AsyncIterator[Any] = self.watcher.run()
        async for event in stream:
            self.events.append(event.payload)

    def start(self) -> None:
        self._task = self.loop.create_task(self._consume())

    def advance(self, seconds: float) -> None:
        """Let the watcher run for ``seconds`` (its loop only runs while this waits)."""
        self.loop.run_until_complete(asyncio.sleep(seconds))
        if self._task is not None and self._task.done():
            self._task.result()  # a watcher that stopped is a failure: raise its error

    def stop(self) -> None:
        """Cancel the watcher (its ``finally`` closes its connections) and close the loop; once."""
        if self.loop.is_closed():
            return
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with pytest.raises(asyncio.CancelledError):
                self.loop.run_until_complete(self._task)
        self.loop.close()


@pytest.fixture
def running() -> Iterator[Callable[..., Running]]:
    made: list[Running] = []

    def start(**kwargs: Any) -> Running:
        watcher = Running(CompletionWatcher(poll_interval=0.2, max_rows=50, watcher=WATCHER, **kwargs))
        watcher.start()
        made.append(watcher)
        return watcher

    yield start
    for watcher in made:
        watcher.stop()


def _state(sync_dsn: str) -> dict[str, Any]:
    with psycopg.connect(sync_dsn, row_factory=psycopg.rows.dict_row) as conn:
        row = conn.execute("SELECT * FROM symphonics.completion_watchers WHERE watcher = %s", (WATCHER,)).fetchone()
    assert row is not None, "the watcher recorded nothing"
    return row


def test_completions_fire_once_and_bookings_never(app: str, sync_dsn: str, running: Callable[..., Running]) -> None:
    with psycopg.connect(app) as conn:
        booked = schedule_copies(conn, _templates(app), 3)
    watcher = running()
    watcher.advance(1.5)
    # Started after the bookings: it starts at the app's newest row, and bookings never fire anyway.
    assert watcher.events == []
    with psycopg.connect(app) as conn:
        schedule_copies(conn, _templates(app), 2)  # more bookings: passed over, no event
    watcher.advance(1.0)
    assert watcher.events == []

    with psycopg.connect(app) as conn:
        complete(conn, booked[0])
    watcher.advance(1.5)
    assert len(watcher.events) == 1
    assert watcher.events[0]["actionable"] == 1
    assert watcher.events[0]["watcher"] == WATCHER

    # The row stays completed: no second event for it.
    watcher.advance(1.5)
    assert len(watcher.events) == 1

    # Two completions between two probes: one event for both (a burst coalesces at the source too).
    with psycopg.connect(app) as conn:
        complete(conn, booked[1])
        complete(conn, booked[2])
    watcher.advance(1.5)
    assert [event["actionable"] for event in watcher.events] == [1, 2]

    # A document added to a published (completed) intervention: the app's trigger moves updated_at, one event.
    with psycopg.connect(app) as conn:
        conn.execute(
            "INSERT INTO intervention_documents (intervention_id, type, name, url) "
            "VALUES (%s, 'additional_proof', 'proof.pdf', 'https://docs.example/proof.pdf')",
            (booked[0],),
        )
    watcher.advance(1.5)
    assert len(watcher.events) == 3

    state = _state(sync_dsn)
    assert state["signals"] == 3
    assert state["probes"] >= 5
    assert state["last_probe_at"] is not None
    assert state["errors"] == 0


def test_the_position_survives_a_restart(app: str, sync_dsn: str, running: Callable[..., Running]) -> None:
    with psycopg.connect(app) as conn:
        booked = schedule_copies(conn, _templates(app), 2)
    first = running()
    first.advance(1.0)
    with psycopg.connect(app) as conn:
        complete(conn, booked[0])
    first.advance(1.5)
    assert len(first.events) == 1
    first.stop()

    # A new triggerer process: the position comes from the sync database, the old completion is not signalled
    # again, a new one is.
    second = running()
    second.advance(1.5)
    assert second.events == []
    with psycopg.connect(app) as conn:
        complete(conn, booked[1])
    second.advance(1.5)
    assert len(second.events) == 1


def test_a_new_watcher_starts_from_the_publish_mark(app: str, sync_dsn: str, running: Callable[..., Running]) -> None:
    # The pipeline's mark is older than the last completions: what lies after it is signalled at once.
    with psycopg.connect(app) as conn:
        mark = conn.execute(
            "SELECT updated_at, id FROM interventions WHERE status = 'completed' ORDER BY updated_at DESC, id DESC "
            "OFFSET 2 LIMIT 1"
        ).fetchone()
    assert mark is not None
    with psycopg.connect(sync_dsn) as conn:
        conn.execute(
            "INSERT INTO symphonics.publish_watermarks (pipeline, mark_updated_at, mark_id) "
            "VALUES ('symphonics_publish', %s, %s)",
            mark,
        )
    watcher = running()
    watcher.advance(1.5)
    assert len(watcher.events) == 1
    assert watcher.events[0]["actionable"] >= 2


def test_app_database_down_is_logged_and_recovers_without_a_storm(
    app: str, sync_dsn: str, stack: Any, running: Callable[..., Running], caplog: pytest.LogCaptureFixture
) -> None:
    database = psycopg.conninfo.conninfo_to_dict(app)["dbname"]
    with psycopg.connect(app) as conn:
        booked = schedule_copies(conn, _templates(app), 2)
    watcher = running()
    watcher.advance(1.0)
    caplog.set_level(logging.DEBUG, logger="include.symphonics.publish.watcher")

    with psycopg.connect(stack.server.admin_url, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (database,))
    try:
        watcher.advance(3.0)
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "probe failed" in r.message]
        # Logged once for the outage, not once per probe; the watcher kept running; nothing was signalled.
        assert len(warnings) == 1
        assert watcher.events == []
        failing = _state(sync_dsn)
        assert failing["errors"] >= 1
        assert failing["last_error"]
        assert "password" not in failing["last_error"].lower()
    finally:
        with psycopg.connect(stack.server.admin_url, autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')

    with psycopg.connect(app) as conn:
        complete(conn, booked[0])
    # The backoff doubles from the poll interval: a few seconds at most here.
    for _ in range(20):
        watcher.advance(0.5)
        if watcher.events:
            break
    assert len(watcher.events) == 1, "the watcher did not recover"
    assert any("answer again" in r.message for r in caplog.records)
    errors_after = _state(sync_dsn)["errors"]
    # Back to normal: no error counted since, and no further event for the same completion.
    watcher.advance(1.5)
    assert len(watcher.events) == 1
    assert _state(sync_dsn)["errors"] == errors_after
    assert booked
