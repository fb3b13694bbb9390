"""The dashboard's figures, read from the ``sync`` database (SQL in ``include/symphonics/sql/dashboard/``).

Each panel is one function returning a JSON-ready dict with a ``status``: ``ok``, ``no_data`` (its table is
not created yet, or holds nothing yet) or ``error`` (the query failed; the other panels still render). The
connection is autocommit, so one failed panel never aborts the others' reads.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.rows import dict_row

from include.symphonics.core.quota_policy import CHECK_OPERATION, PRIORITY_CLASSES
from include.symphonics.core.states import OPS_STATES as LEDGER_OPS_STATES
from include.symphonics.core.states import WORK_STATES as LEDGER_WORK_STATES
from include.symphonics.core.states import LedgerState
from include.symphonics.dashboard.settings import QuotaLimits
from include.symphonics.sql import SqlFolder

log = logging.getLogger(__name__)

Panel = dict[str, Any]
Row = dict[str, Any]

#: Minutes of the per-minute quota chart.
QUOTA_MINUTES = 30
#: Hours of the webhook and latency windows.
WINDOW_HOURS = 24
#: Publish runs listed (of all kinds, or of the kind a filter picks).
RECENT_RUNS = 100
#: The kinds of publish runs the runs panel counts and filters by: Airflow's run types, and dry runs.
RUN_KINDS = ("scheduled", "manual", "backfill", "asset_triggered", "dry_run")
#: Rows listed in the "waiting for ops" table, and reasons in the rejection chart.
OPS_ROWS = 25
TOP_REASONS = 10
#: Days of the rejection panel: the analysts' "what was rejected last week" (docs/ANALYTICS.md) over the same rows.
REJECTION_WINDOW_DAYS = 7

#: Days of the alerts panel (open episodes are listed whatever their age), and the alerts it lists at most.
ALERT_WINDOW_DAYS = 7
ALERT_ROWS = 50

#: The ledger states of rows a publish run still works on (the backlog), in the ledger's order.
WORK_STATES = tuple(state.value for state in LedgerState if state in LEDGER_WORK_STATES)
#: The ledger states only a person can settle.
OPS_STATES = tuple(sorted(state.value for state in LEDGER_OPS_STATES))

#: The tables each panel reads; a panel whose table is missing says "no data yet".
PANEL_TABLES: dict[str, tuple[str, ...]] = {
    "quota": ("api_calls", "quota_windows"),
    "backlog": ("interventions_ledger",),
    "runs": ("publish_runs",),
    "rejections": ("interventions_ledger", "status_history"),
    "ops_queue": ("interventions_ledger",),
    "webhooks": ("webhook_events", "webhook_refusals"),
    "latency": ("api_calls",),
    "breaker": ("api_calls",),
    "freshness": ("completion_watchers", "interventions_ledger"),
    "alerts": ("alerts",),
}


#: The statement in ``sql/dashboard/<name>.sql`` (values are bound as parameters, never formatted in).
sql = SqlFolder("dashboard").literal


def _rows(conn: psycopg.Connection, name: str, params: Mapping[str, Any]) -> list[Row]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql(name), params)
        return list(cur.fetchall())


def _one(conn: psycopg.Connection, name: str, params: Mapping[str, Any]) -> Row:
    rows = _rows(conn, name, params)
    return rows[0] if rows else {}


def _no_data(message: str) -> Panel:
    return {"status": "no_data", "message": message}


def _ms(value: float | Decimal | None) -> float | None:
    return None if value is None else round(float(value), 1)


def present_tables(conn: psycopg.Connection) -> set[str]:
    """The dashboard's tables that exist in the ``symphonics`` schema.

    :param conn: the ``sync`` database.
    """
    names = sorted({table for tables in PANEL_TABLES.values() for table in tables})
    return {row["name"] for row in _rows(conn, "tables_present", {"names": names}) if row["present"]}


# -- quota ------------------------------------------------------------------------------------------------------


def quota_panel(conn: psycopg.Connection, limits: QuotaLimits, now: datetime) -> Panel:
    """Requests sent today and in the last minute per priority class, against the class caps and the limits.

    The requests of every client id are counted, as ``analytics.quota_daily`` counts them (a connection test with
    a wrong client id is an ops call too); ``checks`` are the connection tests' requests. The limits are the
    configured ones lowered to what the partner stated (``X-RateLimit-Limit``, adopted by the client), and
    ``partner_floor_until`` is the end of a floor the partner set (a ``Retry-After``) while it runs.

    :param conn: the ``sync`` database.
    :param limits: the limits the client enforces.
    :param now: the time the figures are for.
    """
    day_start = limits.day_start(now)
    params = {"now": now, "day_start": day_start, "client_id": limits.client_id, "check_operation": CHECK_OPERATION}
    used = {row["priority_class"]: row for row in _rows(conn, "quota_today", params)}
    since = now.replace(second=0, microsecond=0) - timedelta(minutes=QUOTA_MINUTES - 1)
    per_minute_rows = _rows(conn, "quota_per_minute", {**params, "since": since})
    try:
        partner = _one(conn, "quota_partner", params)
    except psycopg.errors.UndefinedColumn:
        partner = {}  # a database before migration 0019 holds no statement of the partner's
    effective = limits.policy().with_partner_limits(partner.get("partner_per_minute"), partner.get("partner_per_day"))
    classes: list[dict[str, Any]] = [
        {
            "name": name,
            "used_today": int(used[name]["used_today"]) if name in used else 0,
            "last_minute": int(used[name]["last_minute"]) if name in used else 0,
            "checks": int(used[name]["checks"]) if name in used else 0,
            "share": limits.shares.get(name, 1.0),
            "cap": effective.class_cap(name),
        }
        for name in PRIORITY_CLASSES
    ]
    minutes: dict[datetime, dict[str, int]] = {
        since + timedelta(minutes=offset): dict.fromkeys(PRIORITY_CLASSES, 0) for offset in range(QUOTA_MINUTES)
    }
    for row in per_minute_rows:
        slot = minutes.get(row["minute"].astimezone(UTC))
        if slot is not None and row["priority_class"] in slot:
            slot[row["priority_class"]] = int(row["calls"])
    day_used = sum(item["used_today"] for item in classes)
    panel: Panel = {
        "status": "ok" if day_used or per_minute_rows else "no_data",
        "day_start": day_start,
        "day_used": day_used,
        "day_limit": effective.requests_per_day,
        "last_minute": sum(item["last_minute"] for item in classes),
        "minute_limit": effective.requests_per_minute,
        "configured_day_limit": limits.requests_per_day,
        "configured_minute_limit": limits.requests_per_minute,
        "partner_per_minute": partner.get("partner_per_minute"),
        "partner_per_day": partner.get("partner_per_day"),
        "partner_floor_until": partner.get("floor_until"),
        "checks": sum(item["checks"] for item in classes),
        "classes": classes,
        "per_minute": [{"minute": minute, **counts} for minute, counts in minutes.items()],
    }
    if panel["status"] == "no_data":
        panel["message"] = "no request sent to Symphonics today"
    return panel


# -- backlog ----------------------------------------------------------------------------------------------------


def backlog_eta(
    backlog: int,
    calls_per_row: float,
    limits: QuotaLimits,
    publish_used_today: int,
    day_used_today: int,
    now: datetime,
) -> datetime | None:
    """When the backlog should be drained at the publish class's quota.

    Today's remaining publish allowance goes first (at the per-minute limit), then whole days of the class's cap.
    Publish runs are scheduled, so the real time is at best this.

    :param backlog: rows still to work on.
    :param calls_per_row: requests a row costs (validations, create, retries).
    :param limits: the limits the client enforces.
    :param publish_used_today: requests of the publish class sent today.
    :param day_used_today: requests of every class sent today.
    :param now: the time the estimate is for.
    """
    if backlog <= 0:
        return now
    cap = limits.class_cap("publish")
    if cap <= 0 or limits.requests_per_minute <= 0:
        return None
    needed = math.ceil(backlog * calls_per_row)
    remaining_today = max(0, min(cap - publish_used_today, limits.requests_per_day - day_used_today))
    if needed <= remaining_today:
        return now + limits.minute_length * (needed / limits.requests_per_minute)
    left = needed - remaining_today
    full_days, last_day = divmod(left, cap)
    if last_day == 0:
        full_days, last_day = full_days - 1, cap
    next_day = limits.day_start(now) + limits.day_length
    return next_day + limits.day_length * full_days + limits.minute_length * (last_day / limits.requests_per_minute)


def backlog_panel(
    conn: psycopg.Connection, limits: QuotaLimits, now: datetime, tables: set[str], quota: Panel | None
) -> Panel:
    """Ledger rows per state, the backlog (rows still to work on) and when it should be drained.

    :param conn: the ``sync`` database.
    :param limits: the limits the client enforces.
    :param now: the time the figures are for.
    :param tables: the tables that exist.
    :param quota: the quota panel (today's usage), if it was read.
    """
    states = {row["state"]: int(row["rows"]) for row in _rows(conn, "ledger_states", {})}
    if not states:
        return _no_data("the interventions ledger is empty: no publish run yet")
    backlog = sum(states.get(state, 0) for state in WORK_STATES)
    calls_per_row, estimate_basis = 1.0, "assumes 1 request per row (no finished publish run has settled a row yet)"
    if "publish_runs" in tables:
        last = _one(conn, "calls_per_row", {})
        if last:
            calls_per_row = max(float(last["calls"]) / float(last["rows_settled"]), 0.01)
            estimate_basis = (
                f"{calls_per_row:.2f} requests per row: the last finished publish run ({last['run_id']}) spent "
                f"{int(last['calls']):,} requests on {int(last['rows_settled']):,} row(s)"
            )
    classes = {item["name"]: item for item in (quota or {}).get("classes", [])}
    publish_used = int(classes.get("publish", {}).get("used_today", 0))
    day_used = int((quota or {}).get("day_used", 0))
    return {
        "status": "ok",
        "states": [{"state": state, "rows": rows} for state, rows in sorted(states.items(), key=lambda kv: -kv[1])],
        "total": sum(states.values()),
        "backlog": backlog,
        "backlog_states": {state: states.get(state, 0) for state in WORK_STATES},
        "calls_per_row": round(calls_per_row, 2),
        "eta": backlog_eta(backlog, calls_per_row, limits, publish_used, day_used, now),
        "eta_basis": estimate_basis,
    }


# -- runs, rejections, ops --------------------------------------------------------------------------------------


def runs_panel(conn: psycopg.Connection, kind: str | None = None) -> Panel:
    """Publish runs' summaries, newest first, with the number of runs of each kind (all recorded).

    :param conn: the ``sync`` database.
    :param kind: only runs of this kind (one of :data:`RUN_KINDS`); None for every kind.
    :raises ValueError: for an unknown kind.
    """
    if kind is not None and kind not in RUN_KINDS:
        raise ValueError(f"unknown run kind {kind!r}: one of {', '.join(RUN_KINDS)}")
    counts = {row["kind"]: int(row["runs"]) for row in _rows(conn, "runs_by_kind", {})}
    runs = _rows(conn, "recent_runs", {"limit": RECENT_RUNS, "kind": kind})
    if not counts:
        return _no_data("no publish run recorded yet")
    for run in runs:
        finished = run["finished_at"]
        run["duration_seconds"] = (finished - run["started_at"]).total_seconds() if finished else None
    by_kind = {name: counts.get(name, 0) for name in RUN_KINDS}
    by_kind.update({name: n for name, n in counts.items() if name not in by_kind})
    return {
        "status": "ok",
        "kind": kind,
        "by_kind": by_kind,
        "total": sum(counts.values()),
        "shown_limit": RECENT_RUNS,
        "runs": runs,
    }


def rejections_panel(conn: psycopg.Connection, now: datetime | None = None) -> Panel:
    """Refusals of the last :data:`REJECTION_WINDOW_DAYS` days as ``analytics.rejections`` defines them, and the
    most frequent reasons rows were held back (local rules too, which are not refusals: nothing was sent).

    :param conn: the ``sync`` database.
    :param now: the time the figures are for (default: now).
    """
    since = (now or datetime.now(UTC)) - timedelta(days=REJECTION_WINDOW_DAYS)
    reasons = _rows(conn, "rejection_reasons", {"limit": TOP_REASONS, "since": since})
    totals = _rows(conn, "rejection_totals", {"since": since})
    if not reasons:
        panel = _no_data(f"no row rejected in the last {REJECTION_WINDOW_DAYS} days")
        panel.update(refusals=0, refusals_by_kind=[], window_days=REJECTION_WINDOW_DAYS)
        return panel
    return {
        "status": "ok",
        "since": since,
        "window_days": REJECTION_WINDOW_DAYS,
        "refusals": sum(int(row["refusals"]) for row in totals),
        "refusals_by_kind": totals,
        "reasons": reasons,
    }


def ops_queue_panel(conn: psycopg.Connection) -> Panel:
    """Rows waiting for a person: how many per state, and the longest waiting.

    :param conn: the ``sync`` database.
    """
    states = {row["state"]: int(row["rows"]) for row in _rows(conn, "ledger_states", {})}
    counts = {state: states.get(state, 0) for state in OPS_STATES}
    if not any(counts.values()):
        panel = _no_data("no row waiting for ops")
        panel["counts"] = counts
        return panel
    return {"status": "ok", "counts": counts, "rows": _rows(conn, "ops_rows", {"limit": OPS_ROWS})}


# -- webhooks, latency, breaker ---------------------------------------------------------------------------------


def _hours(now: datetime) -> list[datetime]:
    last = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return [last - timedelta(hours=WINDOW_HOURS - 1 - offset) for offset in range(WINDOW_HOURS)]


def webhooks_panel(conn: psycopg.Connection, now: datetime) -> Panel:
    """Webhooks over the last 24 hours: accepted, late (stored, polled), refused by reason, per hour.

    :param conn: the ``sync`` database.
    :param now: the time the figures are for.
    """
    hours = _hours(now)
    params = {"now": now, "since": hours[0]}
    events = _one(conn, "webhook_events_summary", params)
    rejections = _rows(conn, "webhook_rejections_summary", params)
    hourly: dict[datetime, dict[str, int]] = {hour: {"accepted": 0, "late": 0, "refused": 0} for hour in hours}
    for row in _rows(conn, "webhook_events_hourly", params):
        slot = hourly.get(row["hour"].astimezone(UTC))
        if slot is not None:
            slot["accepted"], slot["late"] = int(row["accepted"]), int(row["late"])
    for row in _rows(conn, "webhook_rejections_hourly", params):
        slot = hourly.get(row["hour"].astimezone(UTC))
        if slot is not None:
            slot["refused"] = int(row["refused"])
    accepted, late = int(events.get("accepted") or 0), int(events.get("late") or 0)
    refused = sum(int(row["refused"]) for row in rejections)
    panel: Panel = {
        "status": "ok" if accepted or late or rejections or events.get("last_received_at") else "no_data",
        "window_hours": WINDOW_HOURS,
        "accepted": accepted,
        "late": late,
        "refused": refused,
        "unknown_event": int(events.get("unknown_event") or 0),
        "unprocessed": int(events.get("unprocessed") or 0),
        "last_received_at": events.get("last_received_at"),
        "rejections": rejections,
        "hourly": [{"hour": hour, **counts} for hour, counts in hourly.items()],
    }
    if panel["status"] == "no_data":
        panel["message"] = "no webhook received yet"
    return panel


def latency_panel(conn: psycopg.Connection, limits: QuotaLimits, now: datetime) -> Panel:
    """The partner's response time (p50 / p95) over the last 24 hours, per operation and per hour.

    :param conn: the ``sync`` database.
    :param limits: the limits (their client id scopes the calls).
    :param now: the time the figures are for.
    """
    hours = _hours(now)
    params = {"now": now, "since": hours[0], "client_id": limits.client_id, "check_operation": CHECK_OPERATION}
    by_operation = _rows(conn, "latency_by_operation", params)
    hourly_rows = {row["hour"].astimezone(UTC): row for row in _rows(conn, "latency_hourly", params)}
    # The grand total (NULL operation) is one row even over no call at all.
    overall = next((row for row in by_operation if row["operation"] is None), None)
    if not (overall and overall["calls"]) and not hourly_rows:
        return _no_data("no request sent to Symphonics in the last 24 hours")
    operations = [
        {
            "operation": row["operation"],
            "calls": row["calls"],
            "p50_ms": _ms(row["p50_ms"]),
            "p95_ms": _ms(row["p95_ms"]),
        }
        for row in by_operation
        if row["operation"] is not None
    ]
    hourly = []
    for hour in hours:
        row = hourly_rows.get(hour, {})
        hourly.append(
            {
                "hour": hour,
                "calls": int(row.get("calls") or 0),
                "unavailable": int(row.get("unavailable") or 0),
                "p50_ms": _ms(row.get("p50_ms")),
                "p95_ms": _ms(row.get("p95_ms")),
            }
        )
    return {
        "status": "ok",
        "window_hours": WINDOW_HOURS,
        "calls": int(overall["calls"]) if overall else 0,
        "p50_ms": _ms(overall["p50_ms"]) if overall else None,
        "p95_ms": _ms(overall["p95_ms"]) if overall else None,
        "unavailable": sum(item["unavailable"] for item in hourly),
        "operations": operations,
        "hourly": hourly,
    }


def breaker_panel(conn: psycopg.Connection, limits: QuotaLimits, now: datetime) -> Panel:
    """The circuit breaker's state, derived from the calls since the partner last answered.

    The breaker itself lives in each worker's memory; this is what a worker that made these calls would hold:
    ``open`` after ``breaker_failures`` calls in a row ended unavailable, until ``breaker_reset`` seconds after
    the last one, then ``half-open`` (the next call is a trial).

    :param conn: the ``sync`` database.
    :param limits: the breaker's threshold and cool-down.
    :param now: the time the state is for.
    """
    streak = _one(
        conn, "breaker_streak", {"now": now, "client_id": limits.client_id, "check_operation": CHECK_OPERATION}
    )
    if not streak or streak.get("last_call_at") is None:
        panel = _no_data("no request sent to Symphonics yet")
        panel["state"] = "closed"
        return panel
    failed_calls = int(streak["failed_calls"] or 0)
    state = "closed"
    open_until: datetime | None = None
    if failed_calls >= limits.breaker_failures and streak["last_failure_at"] is not None:
        open_until = streak["last_failure_at"] + timedelta(seconds=limits.breaker_reset)
        state = "open" if now < open_until else "half-open"
    return {
        "status": "ok",
        "state": state,
        "failed_calls": failed_calls,
        "failed_attempts": int(streak["failed_attempts"] or 0),
        "threshold": limits.breaker_failures,
        "reset_seconds": limits.breaker_reset,
        "open_until": open_until,
        "streak_started_at": streak["streak_started_at"],
        "last_failure_at": streak["last_failure_at"],
        "last_answer_at": streak["last_answer_at"],
        "last_call_at": streak["last_call_at"],
    }


# -- the whole page ---------------------------------------------------------------------------------------------


def freshness_panel(conn: psycopg.Connection, now: datetime) -> Panel:
    """The completion watcher's last probe, and completed -> created latency of the last 24 h's creates whose
    completion is in the last 24 h too (a backlog of old completions published now is not latency).

    :param conn: the ``sync`` database.
    :param now: the end of the window.
    """
    watchers = _rows(conn, "freshness_watcher", {})
    latency = _one(conn, "freshness_latency", {"since": now - timedelta(hours=WINDOW_HOURS)})
    if not watchers and not latency["publishes"]:
        return _no_data("the completion watcher has not probed yet and nothing was published in 24 h")
    return {
        "status": "ok",
        "watchers": watchers,
        "publishes": int(latency["publishes"]),
        "p50_s": None if latency["p50_s"] is None else float(latency["p50_s"]),
        "p95_s": None if latency["p95_s"] is None else float(latency["p95_s"]),
    }


# -- alerts ------------------------------------------------------------------------------------------------------


def alerts_panel(conn: psycopg.Connection, now: datetime) -> Panel:
    """Open alert episodes, and the alerts raised or resolved in the last :data:`ALERT_WINDOW_DAYS` days.

    :param conn: the ``sync`` database.
    :param now: the end of the window.
    """
    rows = _rows(conn, "alerts_recent", {"since": now - timedelta(days=ALERT_WINDOW_DAYS), "limit": ALERT_ROWS})
    if not rows:
        panel = _no_data(f"no alert in the last {ALERT_WINDOW_DAYS} days")
        panel["open"] = 0
        return panel
    opened = [row for row in rows if row["open"]]
    return {
        "status": "ok",
        "window_days": ALERT_WINDOW_DAYS,
        "shown_limit": ALERT_ROWS,
        "open": len(opened),
        "open_critical": sum(1 for row in opened if row["severity"] == "critical"),
        "raised_in_window": sum(1 for row in rows if row["raised_at"] >= now - timedelta(days=ALERT_WINDOW_DAYS)),
        "alerts": rows,
    }


def guarded(name: str, tables: set[str], read: Callable[[], Panel]) -> Panel:
    """``read()``, or ``no_data`` when a table of the panel is missing, or ``error`` when its query failed.

    :param name: the panel, a key of :data:`PANEL_TABLES`.
    :param tables: the tables that exist.
    :param read: reads the panel.
    """
    missing = [table for table in PANEL_TABLES[name] if table not in tables]
    if missing:
        return _no_data(f"no data yet: symphonics.{missing[0]} is not created (its migration has not run)")
    try:
        return read()
    except psycopg.Error as exc:
        log.warning("dashboard panel %s failed: %s", name, type(exc).__name__)
        return {"status": "error", "message": f"could not read the figures ({type(exc).__name__})"}


def collect(conn: psycopg.Connection, limits: QuotaLimits, now: datetime | None = None) -> dict[str, Any]:
    """Every panel's figures, as one JSON-ready document.

    :param conn: the ``sync`` database, in autocommit mode.
    :param limits: the limits the client enforces.
    :param now: the time the figures are for (default: now).
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    tables = present_tables(conn)
    panels: dict[str, Panel] = {}
    panels["quota"] = guarded("quota", tables, lambda: quota_panel(conn, limits, now))
    quota = panels["quota"] if panels["quota"]["status"] != "error" else None
    panels["backlog"] = guarded("backlog", tables, lambda: backlog_panel(conn, limits, now, tables, quota))
    panels["runs"] = guarded("runs", tables, lambda: runs_panel(conn))
    panels["rejections"] = guarded("rejections", tables, lambda: rejections_panel(conn, now))
    panels["ops_queue"] = guarded("ops_queue", tables, lambda: ops_queue_panel(conn))
    panels["webhooks"] = guarded("webhooks", tables, lambda: webhooks_panel(conn, now))
    panels["latency"] = guarded("latency", tables, lambda: latency_panel(conn, limits, now))
    panels["breaker"] = guarded("breaker", tables, lambda: breaker_panel(conn, limits, now))
    panels["freshness"] = guarded("freshness", tables, lambda: freshness_panel(conn, now))
    panels["alerts"] = guarded("alerts", tables, lambda: alerts_panel(conn, now))
    return jsonable({"generated_at": now, "limits": limits.as_dict(), "panels": panels})


def jsonable(value: Any) -> Any:
    """``value`` with datetimes as ISO strings and decimals as floats, for ``json.dumps``.

    :param value: nested dicts, lists and scalars.
    """
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [jsonable(item) for item in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value
