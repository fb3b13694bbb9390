"""One step of the publish pipeline in a process of its own, so that a crash scenario can SIGKILL it.

``python -m tests.faults.worker publish RUN_ID`` runs ``steps.run_publish`` (``validate`` runs extract,
prevalidate and the partner validation; ``pipeline`` runs all four) with the environment it inherits (the test
stack's ``AIRFLOW_*`` and the test's ``AIRFLOW_CONN_*``), logs at INFO to stderr, and prints its result as JSON
on the last line of stdout.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any


def run(step: str, run_id: str) -> dict[str, Any]:
    """Run ``step`` (``publish``, ``validate`` or ``pipeline``) for ``run_id``."""
    from include.symphonics.publish import steps

    result: dict[str, Any] = {}
    if step in ("validate", "pipeline"):
        result["extract"] = steps.run_extract(
            {}, run_id=run_id, run_type="manual", logical_date=None, schedule="*/15 * * * *"
        )
        result["local"] = steps.run_prevalidate(run_id=run_id)
        result["partner"] = steps.run_partner_validation(run_id=run_id)
    if step in ("publish", "pipeline"):
        result["publish"] = steps.run_publish({}, run_id=run_id)
    return result


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    step, run_id = argv[1], argv[2]
    result = run(step, run_id)
    sys.stdout.write(json.dumps(result, default=str) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
