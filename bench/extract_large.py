"""Extraction of 10,000 changed interventions from an app database of 1,000,000: time, peak memory, plan.

    python bench/extract_large.py [--app-dsn DSN] [--changed 10000] [--interventions 1000000] [--seed 42]

Without ``--app-dsn`` the script starts its own embedded PostgreSQL (``.local/bench-pg``) and seeds it with
``bench/seed_app.py``'s generator (about 90 s for 1,000,000). The app database is only read: the "changed"
interventions are the last ``--changed`` ones by (updated_at, id), found by placing the high-water mark just
below them in a scratch ``sync`` database (migrated to head, dropped at the end).
"""

from __future__ import annotations

import argparse
import resource
import secrets
import sys
import time
import tracemalloc
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg
from psycopg import sql

from include.symphonics.core.subject_keys import SubjectKeys
from include.symphonics.db import migrate
from include.symphonics.publish.extract import ExtractRequest, extract
from include.symphonics.publish.settings import PIPELINE, PublishSettings
from include.symphonics.publish.sqlfiles import extraction_query
from include.symphonics_devstack import localpg


def _own_app_database(interventions: int, seed: int) -> tuple[localpg.PgServer, str]:
    from include.symphonics_demo.generator import seed_database

    server = localpg.get_server(localpg.LOCAL_DIR / "bench-pg", keep_running=False)
    name = f"bench_app_{interventions}_{seed}"
    with psycopg.connect(server.admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    url = server.url(name)
    if exists is None:
        server.ensure_databases([name])
        print(f"seeding {interventions:,} interventions (seed {seed}) into {name}…", flush=True)
        seed_database(url, interventions=interventions, seed=seed)
    return server, url


def main() -> int:
    """Measure one extraction and print the figures and the plan."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--app-dsn", help="an app database already seeded (read only)")
    parser.add_argument("--changed", type=int, default=10_000)
    parser.add_argument("--interventions", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    if args.app_dsn:
        app_dsn = args.app_dsn
        server_admin = str(psycopg.conninfo.make_conninfo(app_dsn, dbname="postgres"))
    else:
        server, app_dsn = _own_app_database(args.interventions, args.seed)
        server_admin = server.admin_url

    sync_name = f"bench_sync_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(sync_name)))
    sync_dsn = psycopg.conninfo.make_conninfo(app_dsn, dbname=sync_name)
    try:
        migrate.upgrade(sync_dsn)
        with psycopg.connect(app_dsn) as app:
            total = app.execute("SELECT count(*) FROM public.interventions").fetchone()[0]  # type: ignore[index]
            mark = app.execute(
                "SELECT updated_at, id FROM public.interventions ORDER BY updated_at DESC, id DESC OFFSET %s LIMIT 1",
                (args.changed,),
            ).fetchone()
        assert mark is not None
        with psycopg.connect(sync_dsn) as sync:
            sync.execute(
                "INSERT INTO symphonics.publish_watermarks (pipeline, mark_updated_at, mark_id) VALUES (%s, %s, %s)",
                (PIPELINE, mark[0], mark[1]),
            )
        settings = PublishSettings(overlap=timedelta(0))

        tracemalloc.start()
        started = time.perf_counter()
        keys = SubjectKeys.parse(secrets.token_hex(32))  # throw-away: the erasure index dies with the bench
        counts = extract(app_dsn, sync_dsn, ExtractRequest(), run_id="bench", settings=settings, subject_keys=keys)
        seconds = time.perf_counter() - started
        _, peak_traced = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux

        with psycopg.connect(app_dsn) as app:
            plan = app.execute(
                sql.SQL("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ") + extraction_query("select_changed"),
                {
                    "after_at": mark[0],
                    "after_id": mark[1],
                    "until_at": "infinity",
                    "page_size": settings.page_size,
                    "external_ids": [],
                },
            ).fetchall()
        print(f"app interventions      {total:>12,}")
        print(f"changed (extracted)    {counts.extracted:>12,}  in {counts.pages} page(s) of {settings.page_size:,}")
        print(f"new ledger rows        {counts.new:>12,}")
        print(f"extraction time        {seconds:>12.2f} s (app read + COPY + upsert into the ledger)")
        print(f"peak Python heap       {peak_traced / 2**20:>12.1f} MiB (tracemalloc)")
        print(f"peak process RSS       {peak_rss:>12.1f} MiB (getrusage, whole process)")
        print("plan of one page (EXPLAIN ANALYZE):")
        for (line,) in plan:
            print(f"    {line}")
    finally:
        with psycopg.connect(server_admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(sync_name)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
