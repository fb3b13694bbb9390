"""Health checks of what the pipelines depend on: the app's database, the sync database, the partner API.

Each check returns a :class:`CheckResult` and records it in ``symphonics.healthchecks`` so ops can see
the history; a failed check raises after it is recorded, so the task (and the run) goes red.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import psycopg

from include.symphonics import db
from include.symphonics.partner_settings import PARTNER_CONN_ID
from include.symphonics.sql import SqlFolder


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check.

    :param component: what was checked (``app_db``, ``sync_db``, ``symphonics_api``).
    :param ok: whether it answered as expected.
    :param latency_ms: how long it took to answer.
    :param detail: a one-line explanation, without secrets.
    """

    component: str
    ok: bool
    latency_ms: float
    detail: str


_SQL = SqlFolder("health")

#: The detail of the partner check while the kill switch is on (no request is made).
KILL_SWITCH_DETAIL = "kill switch on (Variable symphonics_kill_switch): the partner API was not contacted"


class HealthCheckFailed(RuntimeError):
    """A component did not answer; the message says which and why."""


def check_database(conn_id: str) -> CheckResult:
    """Connect to the database of ``conn_id`` and run a trivial query."""
    started = time.perf_counter()
    try:
        with psycopg.connect(db.dsn(conn_id), connect_timeout=10) as conn:
            version = conn.execute(_SQL.query("server_version")).fetchone()
        detail = f"PostgreSQL {version[0] if version else '?'}"
        ok = True
    except psycopg.Error as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        ok = False
    return CheckResult(conn_id, ok, (time.perf_counter() - started) * 1000, detail)


def check_partner_api(conn_id: str = PARTNER_CONN_ID) -> CheckResult:
    """Obtain a token from the partner with the connection's credentials (one request, ``ops`` class).

    The token endpoint is the one route that proves both that the API answers and that our credentials
    are accepted, at the cost of one request an hour against the day's quota. With the kill switch on, the
    client's guard refuses that request: nothing is sent and the result says so (``ok``, for the run is not a
    failure, with a detail starting with ``kill switch on``, never "reachable").
    """
    from include.symphonics.hook import SymphonicsHook

    started = time.perf_counter()
    hook = SymphonicsHook(symphonics_conn_id=conn_id)
    try:
        ok, detail = hook.test_connection()
    finally:
        hook.close()
    if hook.guard.refused.get("kill_switch"):
        ok, detail = True, KILL_SWITCH_DETAIL
    return CheckResult("symphonics_api", ok, (time.perf_counter() - started) * 1000, detail)


def record(result: CheckResult, run_id: str | None = None) -> None:
    """Store ``result`` in the sync database's health-check history."""
    with db.connect(db.SYNC_CONN_ID) as conn:
        conn.execute(
            _SQL.query("healthcheck_insert"),
            {
                "component": result.component,
                "ok": result.ok,
                "latency_ms": result.latency_ms,
                "detail": result.detail,
                "run_id": run_id,
            },
        )


def raise_if_failed(result: CheckResult) -> CheckResult:
    """Return ``result`` when it is healthy, else raise :class:`HealthCheckFailed`."""
    if not result.ok:
        raise HealthCheckFailed(f"{result.component} is unhealthy: {result.detail}")
    return result
