"""The record of every request sent: one row in ``symphonics.api_calls`` per request that left the process.

The table feeds the quota dashboard ("calls per day / minute per class"), the benchmarks and incident reviews.
Paths are stored masked. A failure to write the row is logged and never fails the call: the request was made.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import psycopg

from include.symphonics.client.pg import SyncDatabase
from include.symphonics.core.redaction import get_logger
from include.symphonics.sql import SqlFolder

log = get_logger(__name__)


@dataclass(frozen=True)
class RunContext:
    """Which pipeline run made a call (filled by the Airflow hook from the task's context)."""

    dag_id: str | None = None
    task_id: str | None = None
    run_id: str | None = None


@dataclass(frozen=True)
class ApiCall:
    """One request sent to the partner.

    :param path: the masked path (no full PDL or e-mail).
    :param status: HTTP status, ``None`` when no reply came (connection error, timeout).
    :param error_code: the partner's error code, or the transport error's class name.
    """

    called_at: datetime
    client_id: str
    priority_class: str
    operation: str
    method: str
    path: str
    status: int | None
    error_code: str | None
    latency_ms: float
    attempt: int
    request_id: str | None
    token_request: bool
    context: RunContext


class CallRecorder(Protocol):
    """Where call rows go."""

    def record(self, call: ApiCall) -> None: ...


class NullCallRecorder:
    """Records nothing (pure use of the client without a database)."""

    def record(self, call: ApiCall) -> None:
        return None


class MemoryCallRecorder:
    """Keeps the rows in a list (tests)."""

    def __init__(self) -> None:
        self.calls: list[ApiCall] = []

    def record(self, call: ApiCall) -> None:
        self.calls.append(call)


_SQL = SqlFolder("client")


class PostgresCallRecorder:
    """Writes the rows to ``symphonics.api_calls``.

    :param dsn: the ``sync`` database.
    """

    def __init__(self, dsn: str) -> None:
        self._db = SyncDatabase(dsn)

    def record(self, call: ApiCall) -> None:
        try:
            with self._db.transaction() as conn:
                conn.execute(
                    _SQL.query("call_insert"),
                    {
                        "called_at": call.called_at,
                        "client_id": call.client_id,
                        "priority_class": call.priority_class,
                        "operation": call.operation,
                        "method": call.method,
                        "path": call.path,
                        "status": call.status,
                        "error_code": call.error_code,
                        "latency_ms": call.latency_ms,
                        "attempt": call.attempt,
                        "request_id": call.request_id,
                        "token_request": call.token_request,
                        "dag_id": call.context.dag_id,
                        "task_id": call.context.task_id,
                        "run_id": call.context.run_id,
                    },
                )
        except psycopg.Error as exc:
            log.warning("could not record a Symphonics call in api_calls: %s", type(exc).__name__)

    def close(self) -> None:
        """Close the recorder's database connection."""
        self._db.close()
