"""What Airflow's provider discovery costs for the project's provider, and what it leaves out.

    python bench/provider_discovery.py [--runs 7]

Each run is a fresh interpreter (as an api-server worker or the CLI starts): it times the import of the
provider module and its ``get_provider_info()`` (what the ``apache_airflow_provider`` entry point loads), counts
the project's modules that import pulled in, and, for comparison, times the import of the hook (what Airflow
imports only when a connection of the type is used or tested). Prints medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import json, sys, time
started = time.perf_counter()
import {module}
{call}
elapsed = time.perf_counter() - started
project = sorted(m for m in sys.modules if m.startswith("include."))
print(json.dumps({{"ms": elapsed * 1000, "project_modules": project}}))
"""


def _probe(module: str, call: str = "") -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module, call=call)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    """Time both imports ``--runs`` times and print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    cases = {
        "provider info (discovery)": ("include.symphonics.provider", "include.symphonics.provider.get_provider_info()"),
        "hook (first use or Test)": ("include.symphonics.hook", ""),
    }
    for label, (module, call) in cases.items():
        results = [_probe(module, call) for _ in range(args.runs)]
        modules = results[-1]["project_modules"]
        assert isinstance(modules, list)
        client = any(str(m).startswith("include.symphonics.client") for m in modules)
        median = statistics.median(float(str(r["ms"])) for r in results)
        print(
            f"{label:28s} median {median:7.1f} ms over {args.runs} runs; "
            f"{len(modules)} project modules; client imported: {client}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
