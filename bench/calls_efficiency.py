"""Calls spent against calls needed by the publish pipeline on the demo workload (goal: at most 1.05×).

    python bench/calls_efficiency.py [--interventions 300] [--seed 7] [--edits 20]

Starts its own embedded PostgreSQL (``.local/bench-pg``) and a sandbox on loopback, seeds the demo data set,
runs the pipeline's steps (extract → prevalidate → validate_with_partner → publish), mutates ``--edits``
published interventions, runs again, then counts. Needed: one create per published intervention, one PATCH
per late document, one validation per distinct PDL and per distinct installer asked, one lookup per distinct
address, one token request. Spent: every request the sandbox received (retries, 409s, 4xx included).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg
from psycopg import sql


def main() -> int:
    """Run the workload and print spent, needed and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--interventions", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--edits", type=int, default=20)
    args = parser.parse_args()

    from cryptography.fernet import Fernet

    from include.symphonics.db import migrate
    from include.symphonics_demo import ExpectedState, expected_outcomes
    from include.symphonics_demo.generator import seed_database
    from include.symphonics_demo.mutate import mutate_database
    from include.symphonics_devstack import localpg
    from tests.fixtures.sandbox import SandboxAdmin, start_sandbox
    from tests.fixtures.stack import airflow_connection_json

    # The hook shares the token through the sync database, encrypted: a throw-away key for this run.
    os.environ.setdefault("AIRFLOW__CORE__FERNET_KEY", Fernet.generate_key().decode())
    server = localpg.get_server(localpg.LOCAL_DIR / "bench-pg", keep_running=False)
    suffix = uuid.uuid4().hex[:8]
    app_name, sync_name = f"bench_calls_app_{suffix}", f"bench_calls_sync_{suffix}"
    server.ensure_databases([app_name, sync_name])
    sandbox_process = start_sandbox({"rate_limit_per_minute": 1_000_000, "rate_limit_per_day": 10_000_000})
    try:
        migrate.upgrade(server.url(sync_name))
        seed_database(server.url(app_name), interventions=args.interventions, seed=args.seed)
        os.environ["AIRFLOW_CONN_APP_DB"] = airflow_connection_json(server, app_name)
        os.environ["AIRFLOW_CONN_SYNC_DB"] = airflow_connection_json(server, sync_name)
        os.environ["AIRFLOW_VAR_SYMPHONICS_KILL_SWITCH"] = "off"
        sandbox = SandboxAdmin(sandbox_process.url)
        os.environ["AIRFLOW_CONN_SYMPHONICS_DEFAULT"] = json.dumps(
            {
                "conn_type": "symphonics",
                "host": sandbox.url,
                "login": sandbox.client_id,
                "password": sandbox.client_secret,
                "extra": {
                    "requests_per_minute": 1_000_000,
                    "requests_per_day": 10_000_000,
                    "allow_insecure_http": True,
                },
            }
        )
        from tests.publish.conftest import run_pipeline

        run_pipeline("bench-1")
        report = mutate_database(server.url(app_name), seed=args.seed, edits=args.edits)
        run_pipeline("bench-2")

        calls = sandbox.calls()
        spent = len(calls)
        with psycopg.connect(server.url(sync_name)) as conn:
            pdls = conn.execute("SELECT count(*) FROM symphonics.pdl_validations").fetchone()[0]  # type: ignore[index]
            lookups = conn.execute("SELECT count(*) FROM symphonics.pdl_lookups").fetchone()[0]  # type: ignore[index]
            users = conn.execute("SELECT count(*) FROM symphonics.installer_validations").fetchone()[0]  # type: ignore[index]
        expected = expected_outcomes(args.seed, args.interventions)
        creates = expected.state_counts[ExpectedState.PUBLISHED]
        patches = report.counts.get("late_document", 0)
        tokens = 1
        needed = creates + patches + pdls + lookups + users + tokens
        by_route: dict[str, int] = {}
        for call in calls:
            key = f"{call['method']} {call['route']} {call['status']}"
            by_route[key] = by_route.get(key, 0) + 1
        print(f"interventions           {args.interventions:>8}")
        print(f"needed: creates         {creates:>8}")
        print(f"        PATCHes         {patches:>8}")
        print(f"        PDL validations {pdls:>8}")
        print(f"        lookups         {lookups:>8}")
        print(f"        installers      {users:>8}")
        print(f"        token requests  {tokens:>8}")
        print(f"calls needed            {needed:>8}")
        print(f"calls spent             {spent:>8}")
        print(f"ratio spent/needed      {spent / needed:>8.3f}  (goal <= 1.05)")
        print(f"calls per intervention  {spent / args.interventions:>8.2f}")
        for key, count in sorted(by_route.items()):
            print(f"    {key:<45}{count:>6}")
    finally:
        sandbox_process.stop()
        with psycopg.connect(server.admin_url, autocommit=True) as conn:
            for name in (app_name, sync_name):
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
