"""Seed N demo interventions (default 1,000,000) into an app database and print the load rate.

    python bench/seed_app.py [--dsn DSN] [--interventions N] [--seed S]

The tables are reset first. The DSN is ``--dsn``, else ``$SYMPHONICS_APP_DSN``, else Airflow's ``app_db``.
The data set is the one the extraction benchmark reads.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# Also runnable without `make bench` (which sets PYTHONPATH) from any directory.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from include.symphonics_demo.app_db import resolve_app_dsn
from include.symphonics_demo.generator import seed_database


def main() -> int:
    """Seed, then print rows, seconds and rows per second (per table and in total)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dsn")
    parser.add_argument("--interventions", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    report = seed_database(resolve_app_dsn(args.dsn), interventions=args.interventions, seed=args.seed, reset=True)
    total_rows = sum(report.rows.values())
    print(f"interventions      {args.interventions:>12,}")
    for table, rows in report.rows.items():
        print(f"  {table:<24}{rows:>12,}")
    print(f"rows (all tables)  {total_rows:>12,}")
    print(f"time               {report.seconds:>12.1f} s")
    print(f"interventions/s    {args.interventions / report.seconds:>12,.0f}")
    print(f"rows/s             {total_rows / report.seconds:>12,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
