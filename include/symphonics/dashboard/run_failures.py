"""The rows one run left failed (invalid, rejected, failed, dead lettered), with their reasons, and as CSV.

Read from the ledger's history (migration 0011): each row's last change in the run, whatever happened to it since
(its state now is shown beside it). The free text of a state's detail is masked again before it is shown.
"""

from __future__ import annotations

from typing import Any

import psycopg

from include.symphonics.core.redaction import redact
from include.symphonics.dashboard.csv_export import write_csv
from include.symphonics.dashboard.queries import Row, _rows, jsonable

#: The states a row ends a run in when the run failed it.
FAILED_STATES = ("invalid", "rejected_validation", "failed_retryable", "dead_letter")
#: Rows listed at most (a run works on at most a few thousand).
LIMIT = 10_000
#: The CSV's columns, in order.
CSV_COLUMNS = (
    "external_id",
    "ended_in",
    "reason",
    "error_code",
    "http_status",
    "request_id",
    "attempts",
    "changed_at",
    "state_now",
    "state_detail",
    "symphonics_id",
)


def run_failures(conn: psycopg.Connection, run_id: str) -> dict[str, Any]:
    """The failed rows of ``run_id``, grouped counts first.

    :param conn: the ``sync`` database.
    :param run_id: the Airflow run id.
    """
    rows: list[Row] = _rows(
        conn, "run_failures", {"run_id": run_id, "failed_states": list(FAILED_STATES), "limit": LIMIT}
    )
    for row in rows:
        row["state_detail"] = None if row["state_detail"] is None else redact(row["state_detail"])
    counts: dict[str, int] = {}
    for row in rows:
        key = f"{row['ended_in']}: {row['reason'] or '—'}"
        counts[key] = counts.get(key, 0) + 1
    return {"run_id": run_id, "total": len(rows), "by_reason": counts, "rows": rows}


def as_csv(failures: dict[str, Any]) -> str:
    """The rows of :func:`run_failures` as CSV (a header line, then one line a row).

    :param failures: what :func:`run_failures` returned.
    """
    return write_csv(CSV_COLUMNS, jsonable(failures["rows"]))
