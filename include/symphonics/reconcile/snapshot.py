"""The daily reconciliation snapshot: the date's change rows, one set-based ``INSERT … SELECT``, written once.

A snapshot of date D shows each intervention as of an instant ``as_of`` (the run's logical date), as known at
``known_at`` (when it was built). Both are kept in ``analytics.snapshot_builds`` with the stale threshold. Since
migration 0022 the rows are not copied every night: ``analytics.snapshot_changes`` holds, per intervention, a row
on each date its state changed (insert-only), and the view ``analytics.reconciliation_snapshots`` gives every
built date's full snapshot, its time-derived columns computed from the date's build. A build reads only the
interventions whose history or app copy gained a row since the previous build, and inserts a change row where the
state differs: a night with nothing new adds nothing. Dates are built in order: a date older than the newest build
is never built afterwards (its change rows would alter the nights after it), and a built date is never rebuilt.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pendulum
import psycopg
from psycopg.types.json import Jsonb

from include.symphonics.reconcile.sqlfiles import query

log = logging.getLogger(__name__)

TIMEZONE = "Europe/Paris"


@dataclass(frozen=True)
class SnapshotResult:
    """What a build did.

    :param snapshot_date: the date.
    :param as_of: the instant the snapshot describes.
    :param rows: rows the date's snapshot holds (the view's rows of that date).
    :param inserted: change rows this build added (0 when the date was built before).
    :param ledger_history_rows: ledger transitions recorded before the build.
    """

    snapshot_date: date
    as_of: datetime
    rows: int
    inserted: int
    ledger_history_rows: int

    def as_dict(self) -> dict[str, object]:
        """For XCom: ISO strings."""
        return {
            "snapshot_date": self.snapshot_date.isoformat(),
            "as_of": self.as_of.isoformat(),
            "rows": self.rows,
            "inserted": self.inserted,
            "ledger_history_rows": self.ledger_history_rows,
        }


def snapshot_instant(
    logical_date: datetime | None,
    requested: str | None,
    *,
    run_after: datetime | None = None,
    schedule: str = "0 2 * * *",
) -> tuple[date, datetime]:
    """The snapshot's date and instant: ``requested`` (ISO date: that day at 02:00 Paris, or an ISO datetime),
    else the run's logical date, else (a run triggered without one) the schedule's last tick at or before
    ``run_after``; the date is the instant's date in Paris.

    :param logical_date: the run's logical date.
    :param requested: the ``snapshot_date`` param.
    :param run_after: when a run without a logical date was due (its trigger time).
    :param schedule: the DAG's cron schedule, read in Paris time (its presets too).
    :raises ValueError: when none is given or the param is not ISO 8601.
    """
    if requested:
        text = str(requested).strip()
        if len(text) == 10:
            day = date.fromisoformat(text)
            instant = pendulum.datetime(day.year, day.month, day.day, 2, tz=TIMEZONE)
        else:
            parsed = pendulum.parse(text, tz=TIMEZONE)
            if not isinstance(parsed, datetime):
                raise ValueError(f"snapshot_date {requested!r} is not a date or a date-time")
            instant = pendulum.instance(parsed)
    elif logical_date is not None:
        instant = pendulum.instance(logical_date)
    elif run_after is not None:
        instant = last_tick(run_after, schedule)
    else:
        raise ValueError("a snapshot needs a logical date, a run_after or a snapshot_date param")
    return instant.in_timezone(TIMEZONE).date(), instant.in_timezone("UTC")


def last_tick(moment: datetime, schedule: str) -> pendulum.DateTime:
    """The schedule's last tick at or before ``moment``, in Paris time: what a scheduled run at that tick covers.

    A manual run without a logical date thus builds the same snapshot as the scheduled run of its day, never
    a snapshot "as of now" that a later scheduled run of the same date would contradict.

    :param moment: the run's ``run_after``.
    :param schedule: a cron expression or preset.
    """
    from croniter import croniter

    local = pendulum.instance(moment).in_timezone(TIMEZONE)
    try:
        cron = croniter(schedule, local)
        if croniter.match(schedule, local):
            return local
        previous = cron.get_prev(datetime)
    except (ValueError, KeyError):
        previous = local.replace(hour=2, minute=0, second=0, microsecond=0)
        if previous > local:
            previous = previous.subtract(days=1)
    return pendulum.instance(previous).in_timezone(TIMEZONE)


class SnapshotOrderError(ValueError):
    """A date older than the newest built one, never built: building it now would change the nights after it."""


def build_snapshot(
    sync_dsn: str, snapshot_date: date, as_of: datetime, *, stale_days: int, run_id: str | None
) -> SnapshotResult:
    """Record the ledger's moved states in the history, then write the date's change rows if it was not built.

    :param sync_dsn: the ``sync`` database.
    :param snapshot_date: the date.
    :param as_of: the instant it describes (ignored for a date built before: its own is kept).
    :param stale_days: days without news after which a published intervention is ``stale``.
    :param run_id: the Airflow run.
    :raises SnapshotOrderError: when the date is older than the newest build and was never built.
    """
    with psycopg.connect(sync_dsn) as conn, conn.transaction():
        ledger_rows = conn.execute(query("record_ledger_history"), {"run_id": run_id}).rowcount
        previous = conn.execute(query("snapshot_build_read"), {"snapshot_date": snapshot_date}).fetchone()
        inserted = 0
        if previous is not None:
            # Written once: the date's change rows and build stay as they are (insert-only, migration 0022).
            built_as_of, _known_at, _stale_days, rows = previous
            if built_as_of != as_of:
                log.info("snapshot %s was built as of %s: kept as it is", snapshot_date, built_as_of)
            as_of = built_as_of
        else:
            inserted, rows = _write_build(conn, snapshot_date, as_of, stale_days=stale_days, run_id=run_id)
    log.info(
        "snapshot %s as of %s: %s row(s), %s change row(s) added; %s ledger transition(s) recorded",
        snapshot_date,
        as_of,
        rows,
        inserted,
        ledger_rows,
    )
    return SnapshotResult(snapshot_date, as_of, int(rows), inserted, ledger_rows)


def _write_build(
    conn: psycopg.Connection[Any], snapshot_date: date, as_of: datetime, *, stale_days: int, run_id: str | None
) -> tuple[int, int]:
    """Insert a new date's change rows and its build (with its rows per category); return both counts.

    :param conn: the transaction's connection.
    :param snapshot_date: the date, never built.
    :param as_of: the instant it describes.
    :param stale_days: the stale threshold kept with the build.
    :param run_id: the Airflow run.
    :raises SnapshotOrderError: when the date is older than the newest build.
    """
    latest = conn.execute(query("snapshot_build_latest")).fetchone()
    if latest is not None and latest[0] > snapshot_date:
        raise SnapshotOrderError(
            f"snapshot {snapshot_date} was never built and is older than the newest build ({latest[0]}): "
            "snapshots are built in date order (a past night is read from analytics.reconciliation_snapshots)"
        )
    known_row = conn.execute(query("transaction_time")).fetchone()
    known_at = known_row[0] if known_row else None
    inserted = conn.execute(
        query("snapshot_changes_insert"),
        {
            "snapshot_date": snapshot_date,
            "as_of": as_of,
            "known_at": known_at,
            "since_as_of": latest[1] if latest else None,
            "since_known_at": latest[2] if latest else None,
        },
    ).rowcount
    category_rows = _category_rows(conn, snapshot_date, latest[4] if latest else {})
    rows = sum(category_rows.values())
    conn.execute(
        query("snapshot_build_write"),
        {
            "snapshot_date": snapshot_date,
            "as_of": as_of,
            "known_at": known_at,
            "stale_days": stale_days,
            "row_count": rows,
            "category_rows": Jsonb(category_rows),
            "run_id": run_id,
        },
    )
    return inserted, rows


def _category_rows(
    conn: psycopg.Connection[Any], snapshot_date: date, previous: dict[str, int] | None
) -> dict[str, int]:
    """The new date's rows per stored category: the previous build's plus the date's changes, or (the previous
    build made before migration 0023 has none) counted once through the store.

    :param conn: the transaction's connection, the date's change rows written.
    :param snapshot_date: the date.
    :param previous: the previous build's counts (``{}`` at the first build, ``None`` when it has none).
    """
    if previous is None:
        row = conn.execute(query("snapshot_category_rows_full"), {"snapshot_date": snapshot_date}).fetchone()
    else:
        row = conn.execute(
            query("snapshot_category_rows"), {"snapshot_date": snapshot_date, "previous_counts": Jsonb(previous)}
        ).fetchone()
    return {str(category): int(count) for category, count in (row[0] if row else {}).items()}
