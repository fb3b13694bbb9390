"""The ledger's model-based test (``tests/publish/test_ledger_model.py``) run deeper than in ``make test``.

    python bench/ledger_model.py [--examples 25] [--steps 15]

Runs the test with more examples and longer sequences (``SYMPHONICS_MODEL_EXAMPLES``, ``SYMPHONICS_MODEL_STEPS``),
then prints the examples run, the steps taken, the invariants checked after each step and the time it took.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The invariants checked after each step (and the drain's two "eventually" promises at the end of each example).
INVARIANTS = 3


def main() -> int:
    """Run the model-based test deeper and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--examples", type=int, default=25)
    parser.add_argument("--steps", type=int, default=15)
    args = parser.parse_args()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SYMPHONICS_MODEL_EXAMPLES": str(args.examples),
        "SYMPHONICS_MODEL_STEPS": str(args.steps),
    }
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-s",
        "-p",
        "no:cacheprovider",
        "tests/publish/test_ledger_model.py",
    ]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    marker = '{"examples"'
    lines = [line[line.index(marker) :] for line in result.stdout.splitlines() if marker in line]
    figures = json.loads(lines[0]) if lines else {}
    print(
        json.dumps(
            {
                "passed": result.returncode == 0,
                "examples": figures.get("examples"),
                "steps": figures.get("steps"),
                "invariants_per_step": INVARIANTS,
                "seconds": round(elapsed, 1),
            }
        )
    )
    if result.returncode != 0:
        print(result.stdout[-4000:], file=sys.stderr)
    return result.returncode


if __name__ == "__main__":
    raise SystemExit(main())
