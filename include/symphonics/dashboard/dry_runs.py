"""A dry run's result as the dashboard shows it: the rows it would create, PATCH, skip or refuse, and what it would
cost under the quota left.

The rows are the ones the publish step stored (``symphonics.dry_run_results``, migration 0011). The cost is one
request a create or PATCH; today's allowance left for the publish class and the ETA are computed when the page asks,
with the same arithmetic as the backlog's ETA (:func:`include.symphonics.dashboard.queries.backlog_eta`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg

from include.symphonics.core.quota_policy import CHECK_OPERATION
from include.symphonics.dashboard.csv_export import write_csv
from include.symphonics.dashboard.queries import _rows, backlog_eta, jsonable
from include.symphonics.dashboard.settings import QuotaLimits

#: The CSV's columns, in order.
CSV_COLUMNS = ("external_id", "action", "state", "reason", "fields", "new_documents", "calls")
ACTIONS = ("create", "patch", "skip", "refuse")


def dry_run(
    conn: psycopg.Connection, run_id: str | None, limits: QuotaLimits, now: datetime | None = None
) -> dict[str, Any] | None:
    """The stored result of ``run_id`` (the latest dry run when ``None``); ``None`` when ``run_id`` names no dry run.

    Without ``run_id`` and no dry run stored, the answer is an empty result (``run_id`` None): the page shows its
    empty state, not an error. A dry run that planned nothing (nothing to create, PATCH, refuse or skip) is an
    empty result of its own run id, found by its run summary.

    :param conn: the ``sync`` database.
    :param run_id: the dry run's Airflow run id.
    :param limits: the limits the client enforces (the publish class's cap, the per-minute limit).
    :param now: the time the quota left and the ETA are for.
    """
    now = now or datetime.now(UTC)
    if not run_id:
        latest = _rows(conn, "dry_run_latest", {})
        if not latest:
            return _empty(None, None, now)
        run_id = str(latest[0]["run_id"])
    rows = _rows(conn, "dry_run_rows", {"run_id": run_id})
    if not rows:
        summary = _rows(conn, "dry_run_summary", {"run_id": run_id})
        return _empty(run_id, summary[0]["recorded_at"], now) if summary else None
    counts = dict.fromkeys(ACTIONS, 0)
    for row in rows:
        counts[row["action"]] += 1
    calls = sum(int(row["calls"]) for row in rows)
    used = {
        row["priority_class"]: int(row["used_today"])
        for row in _rows(
            conn,
            "quota_today",
            {"now": now, "day_start": limits.day_start(now), "check_operation": CHECK_OPERATION},
        )
    }
    day_used = sum(used.values())
    publish_left = max(0, min(limits.class_cap("publish") - used.get("publish", 0), limits.requests_per_day - day_used))
    return {
        "run_id": run_id,
        "recorded_at": rows[0]["recorded_at"],
        "counts": counts,
        "calls": calls,
        "publish_left_today": publish_left,
        "eta": backlog_eta(calls, 1.0, limits, used.get("publish", 0), day_used, now) if calls else now,
        "rows": rows,
    }


def _empty(run_id: str | None, recorded_at: datetime | None, now: datetime) -> dict[str, Any]:
    """A dry run with no row (``run_id``), or no dry run at all (``run_id`` None)."""
    return {
        "run_id": run_id,
        "recorded_at": recorded_at,
        "counts": dict.fromkeys(ACTIONS, 0),
        "calls": 0,
        "publish_left_today": None,
        "eta": None,
        "rows": [],
    }


def as_csv(result: dict[str, Any]) -> str:
    """The rows of :func:`dry_run` as CSV (field names joined with ``;``).

    :param result: what :func:`dry_run` returned.
    """
    return write_csv(
        CSV_COLUMNS, ({**row, "fields": ";".join(row["fields"] or [])} for row in jsonable(result["rows"]))
    )
