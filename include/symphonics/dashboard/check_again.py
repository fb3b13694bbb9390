""" "Check again now": what a run of ``symphonics_publish`` given some ``external_ids`` would cost, before it is
triggered (through Airflow's REST API with the viewer's own token: :meth:`AirflowRuns.trigger_publish`).

A run given external ids works on those rows only (its claims are scoped; the backlog is left as it is): the cost
shown is the named rows', at the requests per row of the last finished publish run (the backlog ETA's basis; 1
without one). Today's allowance left for the publish class and the ETA use the backlog ETA's arithmetic.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import psycopg

from include.symphonics.core.quota_policy import CHECK_OPERATION
from include.symphonics.dashboard.queries import _one, _rows, backlog_eta
from include.symphonics.dashboard.settings import QuotaLimits
from include.symphonics.params import MAX_EXTERNAL_ID_LENGTH, MAX_EXTERNAL_IDS

#: The largest body ``POST /api/check_again`` reads: the most ids a run accepts, each at its longest, JSON-quoted.
MAX_BODY_BYTES = 64 * 1024


def ids_from_body(body: bytes) -> list[str]:
    """The ``external_ids`` of a "check again" request's JSON body, not yet cleaned.

    :param body: the body, at most :data:`MAX_BODY_BYTES`.
    :raises ValueError: for a body that is not JSON (deep nesting included: the parser's recursion limit).
    :raises TypeError: for JSON without a list of strings under ``external_ids``.
    """
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise ValueError("the body is not JSON") from exc
    raw = document.get("external_ids") if isinstance(document, dict) else None
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise TypeError("external_ids: a list of strings")
    return raw


def clean_ids(external_ids: list[str]) -> list[str]:
    """The ids as a run accepts them: stripped, without blanks or repeats, order kept.

    :param external_ids: the ids the viewer picked.
    :raises ValueError: for more than the run accepts, or an id too long.
    """
    ids = list(dict.fromkeys(item.strip() for item in external_ids if item and item.strip()))
    if len(ids) > MAX_EXTERNAL_IDS:
        raise ValueError(f"at most {MAX_EXTERNAL_IDS} external ids at a time")
    if any(len(item) > MAX_EXTERNAL_ID_LENGTH for item in ids):
        raise ValueError(f"an external id has at most {MAX_EXTERNAL_ID_LENGTH} characters")
    return ids


def publish_allowance(conn: psycopg.Connection, limits: QuotaLimits, now: datetime) -> tuple[int, int, int]:
    """Requests of the publish class today, of every class today, and what the publish class may still send.

    :param conn: the ``sync`` database.
    :param limits: the limits the client enforces.
    :param now: the time the figures are for.
    """
    params = {"now": now, "day_start": limits.day_start(now), "check_operation": CHECK_OPERATION}
    used = {row["priority_class"]: int(row["used_today"]) for row in _rows(conn, "quota_today", params)}
    publish_used, day_used = used.get("publish", 0), sum(used.values())
    left = max(0, min(limits.class_cap("publish") - publish_used, limits.requests_per_day - day_used))
    return publish_used, day_used, left


def preview(
    conn: psycopg.Connection, external_ids: list[str], limits: QuotaLimits, now: datetime | None = None
) -> dict[str, Any]:
    """The cost of checking ``external_ids`` again now.

    :param conn: the ``sync`` database.
    :param external_ids: the ids (already cleaned).
    :param limits: the limits the client enforces.
    :param now: the time the figures are for.
    """
    now = now or datetime.now(UTC)
    known = int(_one(conn, "check_again_rows", {"external_ids": external_ids}).get("known", 0))
    last = _one(conn, "calls_per_row", {})
    calls_per_row = max(float(last["calls"]) / float(last["rows_settled"]), 0.01) if last else 1.0
    rows = len(external_ids)
    calls = math.ceil(rows * calls_per_row)
    publish_used, day_used, left = publish_allowance(conn, limits, now)
    return {
        "external_ids": external_ids,
        "known": known,
        "calls_per_row": round(calls_per_row, 2),
        "calls": calls,
        "publish_left_today": left,
        "fits_today": calls <= left,
        "eta": backlog_eta(rows, calls_per_row, limits, publish_used, day_used, now),
    }
