"""Snapshots linear in changes (issue 24 point 2, migration 0022), on a small generated month.

* The analysts' documented queries (docs/ANALYTICS.md) give the same answers on the old table (filled by the old
  nightly build, night after night), after the migration to change rows, and after its downgrade.
* The new nightly build, run night after night as the pipeline's role, gives the same snapshots as the old one.
* A night with no change adds (almost) no row; a night with k changed interventions adds k rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pendulum
import psycopg
import pytest
from psycopg.rows import dict_row

from include.symphonics.db import migrate, roles
from include.symphonics.reconcile import snapshot
from include.symphonics.reconcile.sqlfiles import text_of
from tests.fixtures.roles import as_login, login_in
from tests.fixtures.stack import TestStack

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
GENERATE = (ROOT / "bench" / "sql" / "generate_history.sql").read_text()
OLD_BUILD = (Path(__file__).parent / "sql" / "build_snapshot_0021.sql").read_text()
PER_DAY = 40
DAYS = 30
STALE_DAYS = 30

#: The analysts' documented queries (docs/ANALYTICS.md, "Example queries"), and every snapshot row in full.
ANALYST_QUERIES = {
    "categories_last_30": (
        "SELECT snapshot_date, category, count(*) FROM analytics.reconciliation_snapshots "
        "WHERE snapshot_date >= current_date - 30 GROUP BY 1, 2 ORDER BY 1, 2"
    ),
    "where_every_intervention_stands": (
        "SELECT ledger_state, ledger_reason, partner_status, count(*) FROM analytics.interventions_current "
        "GROUP BY 1, 2, 3 ORDER BY 4 DESC, 1, 2, 3"
    ),
    "rejections_last_week": (
        "SELECT rejection_kind, decided_by, reason, count(*) AS rejections FROM analytics.rejections "
        "WHERE rejected_at >= now() - interval '7 days' GROUP BY 1, 2, 3 ORDER BY rejections DESC, 1, 2, 3"
    ),
    "every_snapshot_row": "SELECT * FROM analytics.reconciliation_snapshots ORDER BY snapshot_date, external_id",
    "builds": (
        "SELECT snapshot_date, as_of, known_at, stale_days, row_count FROM analytics.snapshot_builds ORDER BY 1"
    ),
}


def _start() -> datetime:
    today = pendulum.today("UTC")
    return today.subtract(days=DAYS + 12)


def _nights() -> list[tuple[date, datetime]]:
    """The month's nights, 02:00 Paris, the last one yesterday's or before."""
    start = _start().date()
    nights = []
    for offset in range(12, 12 + DAYS):
        day = start + timedelta(days=offset)
        nights.append((day, pendulum.datetime(day.year, day.month, day.day, 2, tz="Europe/Paris").in_timezone("UTC")))
    return nights


def _generate(url: str, *, first_number: int = 1) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(
            GENERATE,
            {
                "per_day": PER_DAY,
                "days": DAYS,
                "start": _start(),
                "first_number": first_number,
                "until": datetime.now(pendulum.UTC),
            },
        )


def _old_nightly_builds(url: str) -> None:
    """The month's nights built as the old job built them (one row per intervention per night)."""
    with psycopg.connect(url) as conn:
        for day, as_of in _nights():
            with conn.transaction():
                known_at = conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
                conn.execute(
                    OLD_BUILD,
                    {"snapshot_date": day, "as_of": as_of, "known_at": known_at, "stale_days": STALE_DAYS},
                )
                conn.execute(
                    "INSERT INTO analytics.snapshot_builds (snapshot_date, as_of, known_at, stale_days, row_count) "
                    "SELECT %s, %s, %s, %s, count(*) FROM analytics.reconciliation_snapshots WHERE snapshot_date = %s",
                    (day, as_of, known_at, STALE_DAYS, day),
                )


def _answers(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Each documented query's answer, read as the analysts' role."""
    with psycopg.connect(url) as conn, conn.transaction():
        conn.execute(f"SET LOCAL ROLE {roles.ANALYST_ROLE}")
        return {name: conn.execute(text).fetchall() for name, text in ANALYST_QUERIES.items()}  # type: ignore[arg-type]


@pytest.fixture
def pipeline_login(stack: TestStack) -> Iterator[tuple[str, str]]:
    with login_in(stack.server, roles.PIPELINE_ROLE) as login:
        yield login


def test_the_analysts_queries_answer_the_same_before_and_after_the_migration_and_its_downgrade(
    make_scratch_database: Callable[[], str],
) -> None:
    url = make_scratch_database()
    migrate.upgrade(url, "0021")
    _generate(url)
    _old_nightly_builds(url)
    before = _answers(url)
    categories = {row[1] for row in before["categories_last_30"]}
    # The month holds every category, the time-derived one (stale) too, and one row per intervention per night.
    assert categories >= {
        "approved",
        "rejected",
        "document_rejected",
        "stale",
        "in_sync",
        "invalid_in_app",
        "dead_letter",
        "missing_in_partner",
        "changed_after_publish",
        "awaiting_partner",
    }
    old_rows = len(before["every_snapshot_row"])

    migrate.upgrade(url)
    after = _answers(url)
    for name in ANALYST_QUERIES:
        assert after[name] == before[name], name
    with psycopg.connect(url) as conn:
        changes = conn.execute("SELECT count(*) FROM analytics.snapshot_changes").fetchone()[0]  # type: ignore[index]
    # Linear in changes: a few rows per intervention, not one per night.
    assert changes < old_rows / 5

    migrate.downgrade(url, "0021")
    assert _answers(url) == before


def test_the_nightly_build_gives_the_old_snapshots_and_grows_with_changes_only(
    make_scratch_database: Callable[[], str], pipeline_login: tuple[str, str]
) -> None:
    url = make_scratch_database()
    migrate.upgrade(url, "0021")
    _generate(url)
    _old_nightly_builds(url)
    migrate.upgrade(url)
    old = _answers(url)["every_snapshot_row"]
    with psycopg.connect(url) as conn:
        conn.execute("TRUNCATE analytics.snapshot_changes, analytics.snapshot_builds")

    pipeline = as_login(url, *pipeline_login)
    added: list[int] = []
    for day, as_of in _nights():
        result = snapshot.build_snapshot(pipeline, day, as_of, stale_days=STALE_DAYS, run_id=f"night-{day}")
        added.append(result.inserted)
    new = _answers(url)["every_snapshot_row"]
    # Same rows, every column, every night: the time-derived ones from each night's build.
    assert [tuple(row) for row in new] == [tuple(row) for row in old]
    first = added[0]
    assert first > 0

    # Nights with nothing new: (almost) nothing added.
    last_day, last_as_of = _nights()[-1]
    quiet = []
    for offset in (1, 2):
        result = snapshot.build_snapshot(
            pipeline,
            last_day + timedelta(days=offset),
            last_as_of + timedelta(days=offset),
            stale_days=STALE_DAYS,
            run_id="quiet",
        )
        quiet.append(result.inserted)
        assert result.rows == len([row for row in new if row[0] == last_day])
    assert all(count < first / 100 for count in quiet), (quiet, first)

    # A night with k changed interventions: k rows.
    k = 7
    night = last_day + timedelta(days=3)
    with psycopg.connect(url, row_factory=dict_row) as conn:
        published = conn.execute(
            "SELECT external_id, symphonics_id FROM analytics.snapshot_changes "
            "WHERE present AND partner_status = 'processing' ORDER BY external_id LIMIT %s",
            (k,),
        ).fetchall()
        assert len(published) == k
        for row in published:
            conn.execute(
                "INSERT INTO symphonics.status_history (external_id, symphonics_id, from_status, to_status, source, "
                "occurred_at) VALUES (%s, %s, 'processing', 'approved', 'webhook', now())",
                (row["external_id"], row["symphonics_id"]),
            )
    result = snapshot.build_snapshot(
        pipeline, night, datetime.now(pendulum.UTC) + timedelta(minutes=1), stale_days=STALE_DAYS, run_id="k"
    )
    assert result.inserted == k
    with psycopg.connect(url) as conn:
        approved = conn.execute(
            "SELECT count(*) FROM analytics.reconciliation_snapshots WHERE snapshot_date = %s "
            "AND category = 'approved' AND external_id = ANY(%s)",
            (night, [row["external_id"] for row in published]),
        ).fetchone()
    assert approved is not None
    assert approved[0] == k


def test_a_night_older_than_the_newest_build_is_refused_and_a_built_night_kept(
    make_scratch_database: Callable[[], str], pipeline_login: tuple[str, str]
) -> None:
    url = make_scratch_database()
    migrate.upgrade(url)
    _generate(url)
    pipeline = as_login(url, *pipeline_login)
    (first_day, first_as_of), (second_day, second_as_of) = _nights()[:2]
    built = snapshot.build_snapshot(pipeline, second_day, second_as_of, stale_days=STALE_DAYS, run_id="a")
    with pytest.raises(snapshot.SnapshotOrderError, match="date order"):
        snapshot.build_snapshot(pipeline, first_day, first_as_of, stale_days=STALE_DAYS, run_id="b")
    again = snapshot.build_snapshot(pipeline, second_day, second_as_of, stale_days=STALE_DAYS, run_id="c")
    assert (again.inserted, again.rows) == (0, built.rows)


def _ledger(url: str) -> None:
    """The ledger the generated history leads to (bench/sql/generate_operation.sql's first statement)."""
    statement = (ROOT / "bench" / "sql" / "generate_operation.sql").read_text().split(";\n\n")[0]
    with psycopg.connect(url) as conn:
        conn.execute(statement, {})


def _check(conn: psycopg.Connection[Any], day: date) -> dict[str, bool]:
    return conn.execute(text_of("check_snapshot"), {"snapshot_date": day}).fetchone()  # type: ignore[return-value]


def test_the_nightly_checks_read_the_nights_changes_and_agree_with_the_view(
    make_scratch_database: Callable[[], str], pipeline_login: tuple[str, str]
) -> None:
    url = make_scratch_database()
    migrate.upgrade(url)
    _generate(url)
    _ledger(url)
    pipeline = as_login(url, *pipeline_login)
    nights = _nights()
    for day, as_of in nights:
        snapshot.build_snapshot(pipeline, day, as_of, stale_days=STALE_DAYS, run_id=f"night-{day}")

    since = datetime.now(pendulum.UTC) - timedelta(days=1)
    with psycopg.connect(url, row_factory=dict_row) as conn:
        for day, _ in nights:
            assert all(_check(conn, day).values()), day
            facts = conn.execute(text_of("alert_facts"), {"snapshot_date": day, "since": since}).fetchone()
            counted = conn.execute(
                "SELECT count(*) FILTER (WHERE category IN ('approved', 'rejected', 'document_rejected')) AS decided, "
                "count(*) FILTER (WHERE category IN ('rejected', 'document_rejected')) AS rejected, count(*) AS rows "
                "FROM analytics.reconciliation_snapshots WHERE snapshot_date = %s",
                (day,),
            ).fetchone()
            build = conn.execute(
                "SELECT row_count, category_rows FROM analytics.snapshot_builds WHERE snapshot_date = %s", (day,)
            ).fetchone()
            assert facts is not None
            assert counted is not None
            assert build is not None
            # The counts kept with each build are the view's, night after night (migration 0023).
            assert (facts["decided"], facts["rejected"]) == (counted["decided"], counted["rejected"]), day
            assert build["row_count"] == sum(build["category_rows"].values()) == counted["rows"], day
        assert counted["decided"] > 0
        assert counted["rejected"] > 0

        # The last night's check catches what moved since the night before and disagrees with the snapshot.
        last_day, last_as_of = nights[-1]
        moved = conn.execute(
            "SELECT external_id FROM analytics.reconciliation_snapshots WHERE snapshot_date = %s "
            "AND ledger_state = 'published' ORDER BY external_id LIMIT 1",
            (last_day,),
        ).fetchone()
        assert moved is not None
        with conn.transaction(force_rollback=True):
            conn.execute(
                "UPDATE symphonics.interventions_ledger SET state = 'updated', state_changed_at = %s "
                "WHERE external_id = %s",
                (last_as_of - timedelta(minutes=1), moved["external_id"]),
            )
            checks = _check(conn, last_day)
            assert checks["every_ledger_row_in_snapshot"] is False
            assert checks["every_snapshot_row_in_ledger"] is True
        # A row of the night's that no ledger row stands for, a partner category without an id.
        with conn.transaction(force_rollback=True):
            conn.execute(
                "INSERT INTO analytics.snapshot_changes (external_id, valid_from, present, category, ledger_state, "
                "rejected_documents) VALUES ('GHOST-1', %s, true, 'approved', 'published', '{}')",
                (last_day,),
            )
            checks = _check(conn, last_day)
            assert checks["every_snapshot_row_in_ledger"] is False
            assert checks["partner_rows_have_an_id"] is False
            assert checks["every_ledger_row_in_snapshot"] is True
        assert all(_check(conn, last_day).values())
