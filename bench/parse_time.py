"""Print each DAG file's parse time, measured the way Airflow does (the DagBag's own per-file timing).

Each measurement runs in a fresh process that imports Airflow first, as the dag-processor's parsing
processes have it, so the figure is what the DAG file adds: its own imports and top-level code.
Goal: under 0.3 s per file.

Usage: ``python bench/parse_time.py [--runs N]`` (median and worst of N fresh processes per file).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
GOAL_SECONDS = 0.3

_MEASURE = """
import sys
import airflow  # imported before the clock starts, as in the dag-processor
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
if bag.import_errors:
    sys.exit("import error: %r" % bag.import_errors)
(stat,) = bag.dagbag_stats
print(stat.duration.total_seconds() if hasattr(stat.duration, "total_seconds") else stat.duration)
"""


def measure(path: Path, env: dict[str, str]) -> float:
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path)], env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"{path.name}: {result.stderr.strip()[-500:]}")
    return float(result.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    env = {
        **os.environ,
        # Parsing needs configuration, not a metadata database: a throw-away home is enough.
        "AIRFLOW_HOME": tempfile.mkdtemp(prefix="parse-time-"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    print(f"{'DAG file':36} {'median (s)':>11} {'worst (s)':>10}")
    slowest = 0.0
    for path in sorted((PROJECT_ROOT / "dags").glob("*.py")):
        times = [measure(path, env) for _ in range(args.runs)]
        slowest = max(slowest, max(times))
        flag = "" if max(times) < GOAL_SECONDS else f"  over the {GOAL_SECONDS} s goal"
        print(f"{path.name:36} {statistics.median(times):11.3f} {max(times):10.3f}{flag}")
    print(f"slowest parse: {slowest:.3f} s (goal < {GOAL_SECONDS} s, {args.runs} fresh processes per file)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
