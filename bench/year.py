"""A year (or a month) of operation on one machine: sizes, the nightly job's database steps, an erasure, the
retention pass, the dashboard's panels and a row's story, as a markdown table (issue 24 point 1).

    python bench/year.py [--month | --days N] [--per-day 5000] [--dsn DSN]

Without ``--dsn`` a throw-away embedded PostgreSQL is started in a temporary folder. The operation is generated
set-based (``bench/sql/generate_history.sql``: interventions at ``--per-day`` a day with the demo's mix of
outcomes, the ledger's states, the partner's statuses and document verifications, the app's copy;
``bench/sql/generate_operation.sql``: the ledger, webhook events, partner calls, the erasure's index), dated so that
the period ends yesterday. Then every night is built in date order by the real job
(``include/symphonics/reconcile/snapshot.build_snapshot``: change rows since migration 0022), and on night 30 and
the last night the nightly's other database steps are timed (the snapshot check, the alert facts, the retention
pass). Not measured here: applying webhooks and copying the app (they need the partner and the app: the
generated rows stand for their result), and one day's extraction (it reads the app's database; see
``bench/extract_large.py``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

# Also runnable without `make bench` (which sets PYTHONPATH) from any directory.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pendulum
import psycopg

from include.symphonics.core.subject_keys import CUSTOMER_ID, SubjectKeys
from include.symphonics.dashboard import queries, timeline
from include.symphonics.dashboard.settings import QuotaLimits
from include.symphonics.db import migrate
from include.symphonics.privacy.erasure import ErasureRequest, erase
from include.symphonics.reconcile import purge, snapshot
from include.symphonics.reconcile.sqlfiles import text_of

SQL = Path(__file__).resolve().parent / "sql"
STALE_DAYS = 30
#: The first night is the one after the first day of completions.
LEAD_DAYS = 1
REPEATS = 20


def _timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def _percentiles(action: Callable[[], Any], repeats: int = REPEATS) -> tuple[float, float]:
    """p50 and p95 of ``action`` in ms (one warm-up run first)."""
    action()
    samples = sorted(_timed(action)[0] * 1000 for _ in range(repeats))
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return statistics.median(samples), p95


def _nights(start: date, days: int) -> list[tuple[date, datetime]]:
    nights: list[tuple[date, datetime]] = []
    for offset in range(LEAD_DAYS, LEAD_DAYS + days):
        day = start + timedelta(days=offset)
        nights.append((day, pendulum.datetime(day.year, day.month, day.day, 2, tz="Europe/Paris").in_timezone("UTC")))
    return nights


def generate(dsn: str, days: int, per_day: int) -> tuple[date, float]:
    """The period's operation, set-based; returns its first day and the seconds it took."""
    start = pendulum.today("UTC").subtract(days=days + LEAD_DAYS)
    started = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            (SQL / "generate_history.sql").read_text(),
            {"per_day": per_day, "days": days, "start": start, "first_number": 1, "until": datetime.now(UTC)},
        )
        for statement in (SQL / "generate_operation.sql").read_text().split(";\n\n"):
            conn.execute(statement, {})
        conn.execute("VACUUM ANALYZE")
    return start.date(), time.perf_counter() - started


def _night_steps(dsn: str, day: date) -> dict[str, float]:
    """The nightly's database steps after the build, on one night (seconds each)."""
    steps: dict[str, float] = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        steps["check_snapshot"] = _timed(
            lambda: conn.execute(text_of("check_snapshot"), {"snapshot_date": day}).fetchall()
        )[0]
        steps["alert_facts"] = _timed(
            lambda: conn.execute(
                text_of("alert_facts"),
                {"snapshot_date": day, "since": datetime.now(UTC) - timedelta(hours=24)},
            ).fetchall()
        )[0]
    steps["retention"] = _timed(
        lambda: purge.purge(dsn, body_retention=timedelta(days=30), api_calls_retention=timedelta(days=90))
    )[0]
    return steps


def _erasure(dsn: str) -> float:
    """One erasure by customer id (sync side, the app unreachable): the person's three interventions indexed."""
    keys = SubjectKeys((b"bench-key-0123456789abcdef0123456789",))
    customer_id = 424242
    with psycopg.connect(dsn, autocommit=True) as conn:
        external_ids = [
            row[0]
            for row in conn.execute(
                "SELECT external_id FROM symphonics.interventions_ledger ORDER BY external_id DESC LIMIT 3"
            )
        ]
        for external_id in external_ids:
            conn.execute(
                "INSERT INTO symphonics.subject_keys (key_version, key_hash, external_id) VALUES (%s, %s, %s)",
                (keys.version, keys.current(CUSTOMER_ID, customer_id), external_id),
            )
    seconds, _ = _timed(lambda: erase(ErasureRequest(customer_id=customer_id, reference="bench-1"), dsn, None, keys))
    return seconds


def _sizes(dsn: str) -> tuple[list[tuple[str, int, int]], int]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT n.nspname || '.' || c.relname, pg_total_relation_size(c.oid) FROM pg_class AS c "
            "JOIN pg_namespace AS n ON n.oid = c.relnamespace "
            "WHERE c.relkind = 'r' AND n.nspname IN ('symphonics', 'analytics') ORDER BY 2 DESC"
        ).fetchall()
        rows = []
        for name, size in tables:
            count = conn.execute(f"SELECT count(*) FROM {name}").fetchone()  # noqa: S608
            rows.append((str(name), int(count[0]) if count else 0, int(size)))
        total = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return rows, int(total[0]) if total else 0


def _panels(dsn: str) -> dict[str, tuple[float, float]]:
    limits = QuotaLimits(client_id=None)
    now = datetime.now(UTC)
    figures: dict[str, tuple[float, float]] = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        tables = queries.present_tables(conn)
        panels: dict[str, Callable[[], Any]] = {
            "quota": lambda: queries.quota_panel(conn, limits, now),
            "backlog": lambda: queries.backlog_panel(conn, limits, now, tables, None),
            "runs": lambda: queries.runs_panel(conn),
            "rejections": lambda: queries.rejections_panel(conn, now),
            "ops_queue": lambda: queries.ops_queue_panel(conn),
            "webhooks": lambda: queries.webhooks_panel(conn, now),
            "latency": lambda: queries.latency_panel(conn, limits, now),
            "breaker": lambda: queries.breaker_panel(conn, limits, now),
            "freshness": lambda: queries.freshness_panel(conn, now),
        }
        for name, read in panels.items():
            figures[name] = _percentiles(read)
        story = conn.execute(
            "SELECT external_id FROM symphonics.interventions_ledger WHERE state = 'published' "
            "ORDER BY external_id DESC LIMIT 1 OFFSET 10"
        ).fetchone()
        if story is not None:
            figures["a row's story (timeline)"] = _percentiles(lambda: timeline.timeline(conn, str(story[0])))
    return figures


def run(dsn: str, days: int, per_day: int) -> str:
    """Build the period in ``dsn`` (migrated to head here), measure, and return the markdown report."""
    migrate.upgrade(dsn)
    start, generated_in = generate(dsn, days, per_day)
    print(f"generated {days} days × {per_day:,} interventions in {generated_in:.0f} s", flush=True)
    nights = _nights(start, days)
    build_seconds: dict[int, float] = {}
    added: dict[int, int] = {}
    steps: dict[int, dict[str, float]] = {}
    for number, (day, as_of) in enumerate(nights, start=1):
        started = time.perf_counter()
        result = snapshot.build_snapshot(dsn, day, as_of, stale_days=STALE_DAYS, run_id=f"bench-{day}")
        seconds = time.perf_counter() - started
        build_seconds[number] = seconds
        added[number] = result.inserted
        if number in (30, days):
            steps[number] = _night_steps(dsn, day)
        if number % 30 == 0 or number == days:
            print(f"night {number}: build {seconds:.1f} s, {result.inserted:,} change rows, {result.rows:,} rows")
    # Tonight and tomorrow night take in what happened since the last night up to now; the night after has nothing
    # new (no event is generated after now): the store's growth on a night without change.
    last_day, last_as_of = nights[-1]
    for offset in (1, 2, 3):
        quiet = snapshot.build_snapshot(
            dsn,
            last_day + timedelta(days=offset),
            last_as_of + timedelta(days=offset),
            stale_days=STALE_DAYS,
            run_id=f"bench-quiet-{offset}",
        )
    erasure_seconds = _erasure(dsn)
    retention_seconds = _timed(
        lambda: purge.purge(dsn, body_retention=timedelta(days=30), api_calls_retention=timedelta(days=90))
    )[0]
    panels = _panels(dsn)
    tables, total = _sizes(dsn)

    lines = [f"Build: {days} days × {per_day:,} interventions a day, generated in {generated_in:.0f} s.", ""]
    lines += ["| table | rows | size |", "|---|---:|---:|"]
    lines += [f"| `{name}` | {count:,} | {size / 2**20:,.1f} MB |" for name, count, size in tables if count]
    lines += [f"| **database** | | **{total / 2**30:,.2f} GB** |", ""]
    lines += ["| nightly step (database) | " + " | ".join(f"night {n}" for n in sorted(steps)) + " |"]
    lines += ["|---|" + "---:|" * len(steps)]
    lines += ["| build_snapshot | " + " | ".join(f"{build_seconds[n]:.2f} s" for n in sorted(steps)) + " |"]
    lines += ["| change rows added | " + " | ".join(f"{added[n]:,}" for n in sorted(steps)) + " |"]
    for step in ("check_snapshot", "alert_facts", "retention"):
        lines += [f"| {step} | " + " | ".join(f"{steps[n][step]:.2f} s" for n in sorted(steps)) + " |"]
    totals = {n: build_seconds[n] + sum(steps[n].values()) for n in steps}
    lines += ["| **total** | " + " | ".join(f"**{totals[n]:.2f} s**" for n in sorted(steps)) + " |", ""]
    lines += [
        f"- first night: {added[1]:,} change rows; a night with no change: {quiet.inserted:,} "
        f"({100 * quiet.inserted / max(added[1], 1):.2f} % of the first)",
        f"- one erasure by customer id (sync side, 3 interventions): {erasure_seconds:.2f} s",
        f"- retention pass with nothing due: {retention_seconds:.2f} s",
        "",
        "| read | p50 | p95 |",
        "|---|---:|---:|",
    ]
    lines += [f"| {name} | {p50:.1f} ms | {p95:.1f} ms |" for name, (p50, p95) in panels.items()]
    return "\n".join(lines)


def main() -> int:
    """Run the bench and print its markdown report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dsn", help="an empty sync database (migrated to head here)")
    parser.add_argument("--month", action="store_true", help="30 days instead of 365")
    parser.add_argument("--days", type=int, help="number of days (overrides --month)")
    parser.add_argument("--per-day", type=int, default=5000, help="interventions completed per day")
    args = parser.parse_args()
    days = args.days or (30 if args.month else 365)
    if args.dsn:
        report = run(args.dsn, days, args.per_day)
    else:
        from include.symphonics_devstack.localpg import start_embedded, stop_embedded

        with tempfile.TemporaryDirectory(prefix="year-bench-") as tmp:
            server = start_embedded(Path(tmp))
            try:
                server.ensure_databases(["sync_bench"])
                report = run(server.url("sync_bench"), days, args.per_day)
            finally:
                stop_embedded(Path(tmp))
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
