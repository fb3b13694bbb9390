"""Fixtures of the dashboard's suite: its own migrated ``sync`` databases, seeded with known figures."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql

from include.symphonics.dashboard.settings import QuotaLimits
from include.symphonics.db import migrate
from tests.fixtures.airflow_ui import DASHBOARD_CLIENT_ID
from tests.fixtures.stack import TestStack

CLIENT_ID = DASHBOARD_CLIENT_ID


@dataclass(frozen=True)
class Seeded:
    """A seeded database and the moment its rows are relative to."""

    url: str
    now: datetime
    limits: QuotaLimits
    calls: list[dict[str, Any]] = field(default_factory=list)


def _create_database(stack: TestStack, role: str, revision: str = "head") -> str:
    # The session's naming (pid in the name): dropped with the session's databases even after a crash.
    name = f"symphonics_scratch_{os.getpid()}_dashboard_{role}"
    if revision == "head":
        return stack.sync_database(name)
    stack.server.ensure_databases([name], recreate=True)
    url = stack.server.url(name)
    migrate.upgrade(url, revision)
    return url


def _drop_database(stack: TestStack, url: str) -> None:
    name = url.rsplit("/", 1)[-1].split("?")[0]
    with psycopg.connect(stack.server.admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def limits_for(now: datetime, **changes: Any) -> QuotaLimits:
    """Limits whose partner day started two hours before ``now`` (so no test straddles midnight UTC)."""
    start = now - timedelta(hours=2)
    seconds = start.hour * 3600 + start.minute * 60
    return QuotaLimits(client_id=CLIENT_ID, day_reset_utc=float(seconds), source="tests", **changes)


def _calls(now: datetime) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def add(seconds_ago: float, klass: str, operation: str, status: int | None, latency: float, **extra: Any) -> None:
        calls.append(
            {
                "called_at": now - timedelta(seconds=seconds_ago),
                "client_id": extra.get("client_id", CLIENT_ID),
                "priority_class": klass,
                "operation": operation,
                "method": "POST" if operation == "create_intervention" else "GET",
                "path": "/crm/interventions",
                "status": status,
                "latency_ms": latency,
                "attempt": extra.get("attempt", 1),
                "token_request": operation == "token",
            }
        )

    for i in range(20):  # 2 of them in the last minute
        add(10 + 45 * i, "publish", "create_intervention", 201, 100 + 10 * i)
    for i in range(5):
        add(120 + 60 * i, "reconcile", "get_intervention", 200, 50)
    add(30, "ops", "token", 200, 80)
    # The partner went away: 3 calls (2 attempts each) unavailable since its last answer, 10 s ago.
    for k in range(3):
        add(9 - 2 * k, "publish", "create_intervention", 503, 40, attempt=1)
        add(8 - 2 * k, "publish", "create_intervention", None, 5000, attempt=2)
    add(20, "publish", "create_intervention", 201, 999, client_id="another-client")  # another client id
    add(3 * 3600, "publish", "create_intervention", 201, 300)  # yesterday's partner day, within 24 h
    add(30 * 3600, "publish", "create_intervention", 201, 700)  # older than the 24 h windows
    return calls


def _ledger_rows() -> list[tuple[str, str | None, bool]]:
    rows: list[tuple[str, str | None, bool]] = []
    rows += [("pending", None, False)] * 7
    rows += [("ready", None, False)] * 3
    rows += [("failed_retryable", "partner_unavailable", False)] * 2
    rows += [("published", None, True)] * 10
    rows += [("invalid", "invalid_email", False)] * 3
    rows += [("invalid", "invalid_pce", False)]
    rows += [("rejected_validation", "partner_refused", False)] * 2
    rows += [("rejected_validation", "invalid_email", False)]
    rows += [("conflict_unresolved", "conflict_id_unknown", False)] * 2
    rows += [("changed_after_publish", "edited_after_publish", True)]
    rows += [("dead_letter", "too_many_attempts", False)]
    return rows


def seed(url: str, now: datetime) -> list[dict[str, Any]]:
    """Insert known rows into every table the dashboard reads; returns the ``api_calls`` rows."""
    calls = _calls(now)
    with psycopg.connect(url) as conn:
        for call in calls:
            conn.execute(
                "INSERT INTO symphonics.api_calls (called_at, client_id, priority_class, operation, method, path,"
                " status, latency_ms, attempt, token_request) VALUES (%(called_at)s, %(client_id)s,"
                " %(priority_class)s, %(operation)s, %(method)s, %(path)s, %(status)s, %(latency_ms)s, %(attempt)s,"
                " %(token_request)s)",
                call,
            )
        for index, (state, reason, at_partner) in enumerate(_ledger_rows()):
            conn.execute(
                "INSERT INTO symphonics.interventions_ledger (external_id, app_intervention_id, app_status,"
                " app_updated_at, source, source_fingerprint, state, state_reason, symphonics_id, attempts,"
                " last_error_code, state_changed_at) VALUES (%s, %s, 'completed', %s, '{}'::jsonb, 'fp', %s, %s,"
                " %s, %s, %s, %s)",
                (
                    f"int_{index:06d}",
                    index,
                    now - timedelta(days=1),
                    state,
                    reason,
                    f"sym_{index:06d}" if at_partner else None,
                    6 if state == "dead_letter" else 1,
                    "SERVICE_UNAVAILABLE" if state == "dead_letter" else None,
                    now - timedelta(hours=index),
                ),
            )
        # Three creates an hour ago, 4, 8 and 12 s after their completion (p50 8 s, p95 11.6 s), and the watcher's
        # last probe. An hour ago: the UI test reads them against the real clock, minutes after this seed.
        conn.execute(
            "WITH first AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM symphonics.interventions_ledger"
            " WHERE state = 'published' ORDER BY id LIMIT 3) UPDATE symphonics.interventions_ledger AS l"
            " SET published_at = %(at)s, app_updated_at = %(at)s - make_interval(secs => 4 * first.n)"
            " FROM first WHERE l.id = first.id",
            {"at": now - timedelta(hours=1)},
        )
        conn.execute(
            "INSERT INTO symphonics.completion_watchers (watcher, position_at, position_id, probes, probe_ms_total,"
            " last_probe_at, last_probe_ms, last_probe_rows, signals, last_signal_at, errors) VALUES"
            " ('symphonics_completions', %s, 42, 120, 96.0, %s, 0.7, 0, 5, %s, 0)",
            (now - timedelta(minutes=1), now - timedelta(seconds=2), now - timedelta(minutes=1)),
        )
        runs = [
            # run_id, started (hours ago), dry_run, published, rejected, conflict, failed, dead, calls
            ("manual__a", 30, False, 6, 2, 0, 0, 0, 24),
            ("manual__b", 5, False, 4, 0, 2, 1, 1, 24),
            ("manual__dry", 1, True, 0, 0, 0, 0, 0, 0),
        ]
        for run_id, hours_ago, dry, published, rejected, conflict, failed, dead, spent in runs:
            started = now - timedelta(hours=hours_ago)
            conn.execute(
                "INSERT INTO symphonics.publish_runs (dag_id, run_id, dry_run, published, rejected,"
                " conflict_unresolved, failed_retryable, dead_letter, calls_spent, backlog, started_at, finished_at)"
                " VALUES ('symphonics_publish', %s, %s, %s, %s, %s, %s, %s, %s, 12, %s, %s)",
                (
                    run_id,
                    dry,
                    published,
                    rejected,
                    conflict,
                    failed,
                    dead,
                    spent,
                    started,
                    started + timedelta(minutes=3),
                ),
            )
        event_ids: list[int] = []
        events = [
            # hours ago, late, unknown, processed
            (1, False, False, True),
            (2, False, False, True),
            (3, False, False, True),
            (4, False, False, False),
            (5, False, False, True),
            (6, False, True, False),
            (2, True, False, False),
            (7, True, False, True),
            (30, False, False, True),  # outside the window
        ]
        for index, (hours_ago, late, unknown, processed) in enumerate(events):
            received = now - timedelta(hours=hours_ago, minutes=index)
            row = conn.execute(
                "INSERT INTO symphonics.webhook_events (received_at, event_type, event_at, intervention_id,"
                " new_status, raw_body, dedup_key, unknown_event, late, signature_secret_used, processed_at)"
                " VALUES (%s, %s, %s, %s, 'approved', %s, %s, %s, %s, 'current', %s) RETURNING id",
                (
                    received,
                    "mystery.event" if unknown else "intervention.status_updated",
                    received - timedelta(minutes=10 if late else 0),
                    None if unknown else f"sym_{index:06d}",
                    json.dumps({"n": index}),
                    hashlib.sha256(str(index).encode()).digest(),
                    unknown,
                    late,
                    received if processed else None,
                ),
            ).fetchone()
            assert row is not None
            event_ids.append(row[0])
        rejections = [
            # hours ago, reason, status, event id
            (1, "bad_signature", 401, None),
            (2, "bad_signature", 401, None),
            (3, "bad_signature", 401, None),
            (4, "too_large", 413, None),
            (2, "stale", 422, event_ids[6]),
            (7, "stale", 422, event_ids[7]),
            (30, "bad_signature", 401, None),  # outside the window
        ]
        for index, (hours_ago, reason, code, event_id) in enumerate(rejections):
            received = now - timedelta(hours=hours_ago, minutes=index)
            conn.execute(
                "INSERT INTO symphonics.webhook_rejections (received_at, request_id, reason, status_code,"
                " signature_valid, webhook_event_id) VALUES (%s, %s, %s, %s, %s, %s)",
                (received, f"req_{index}", reason, code, event_id is not None, event_id),
            )
            # The receiver counts every refusal per minute, reason and source (the panel reads these counts).
            conn.execute(
                "INSERT INTO symphonics.webhook_refusals (minute, reason, remote_addr, status_code, requests,"
                " first_at, last_at) VALUES (date_trunc('minute', %(at)s::timestamptz), %(reason)s, '192.0.2.1',"
                " %(code)s, 1, %(at)s, %(at)s)",
                {"at": received, "reason": reason, "code": code},
            )
        # Alerts: an open episode, a resolved one, an alert of a run, and one older than the panel's window.
        alerts = [
            # kind, severity, message, hours ago raised, hours ago resolved, episodic, run id, sent to
            (
                "partner_unavailable",
                "critical",
                "every call to Symphonics has failed for 25 min",
                0.5,
                None,
                True,
                None,
                ["table", "log", "symphonics_alerts"],
            ),
            (
                "dead_letter_added",
                "warning",
                "2 row(s) entered dead_letter since the last check",
                5,
                1,
                True,
                None,
                ["table", "log", "symphonics_alerts"],
            ),
            (
                "failed_run",
                "critical",
                "a run of symphonics_publish failed (first failed task: publish)",
                2,
                None,
                False,
                "manual__b",
                ["table", "log"],
            ),
            (
                "rejected_share",
                "warning",
                "7 of 20 decided interventions are rejected",
                24 * 10,
                None,
                False,
                "scheduled__old",
                ["table", "log"],
            ),
        ]
        for kind, severity, message, raised, resolved, episodic, run_id, via in alerts:
            conn.execute(
                "INSERT INTO symphonics.alerts (kind, severity, message, raised_at, resolved_at, episodic, dag_id,"
                " run_id, notified_via) VALUES (%s, %s, %s, %s, %s, %s, 'symphonics_publish', %s, %s)",
                (
                    kind,
                    severity,
                    message,
                    now - timedelta(hours=raised),
                    None if resolved is None else now - timedelta(hours=resolved),
                    episodic,
                    run_id,
                    via,
                ),
            )
    return calls


#: The partner's reason for the rejected file of :func:`seed_newcomer_shapes`: long, with accents (from the demo).
LONG_PARTNER_REASON = (
    "Dossier rejeté : Les photos avant et après travaux sont illisibles ou manquantes, merci de les renvoyer "
    "avec le numéro de série de l'équipement"
)
#: A publish run id as Airflow writes it (long, no space), of :func:`seed_newcomer_shapes`.
LONG_RUN_ID = "manual__2026-11-28T21:31:50.409420+00:00"


def seed_newcomer_shapes(url: str, now: datetime) -> None:
    """Add to :func:`seed`'s rows the shapes a newcomer's demo showed and that broke the page's layout: a file the
    partner rejected with a long accented reason, completions months old published 30 min ago (a backlog caught
    up, not latency), a run id as long as Airflow's, and a watcher whose last error is a sentence.
    """
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO symphonics.status_history (external_id, symphonics_id, from_status, to_status, source,"
            " notes, occurred_at) SELECT external_id, symphonics_id, 'submitted', 'rejected', 'webhook', %s, %s"
            " FROM symphonics.interventions_ledger WHERE state = 'published' ORDER BY id LIMIT 1",
            (LONG_PARTNER_REASON, now - timedelta(hours=2)),
        )
        conn.execute(
            "WITH old AS (SELECT id FROM symphonics.interventions_ledger WHERE state = 'published'"
            " ORDER BY id OFFSET 3 LIMIT 3) UPDATE symphonics.interventions_ledger AS l"
            " SET published_at = %(at)s, app_updated_at = %(at)s - interval '400 days' FROM old WHERE l.id = old.id",
            {"at": now - timedelta(minutes=30)},
        )
        started = now - timedelta(minutes=20)
        conn.execute(
            "INSERT INTO symphonics.publish_runs (dag_id, run_id, dry_run, kill_switch, calls_budget, calls_spent,"
            " backlog, started_at, finished_at) VALUES ('symphonics_publish', %s, false, true, 3000, 0, 0, %s, %s)",
            (LONG_RUN_ID, started, started + timedelta(seconds=7)),
        )
        conn.execute(
            "UPDATE symphonics.completion_watchers SET errors = 1, last_error_at = %s, last_error = %s",
            (
                now - timedelta(minutes=5),
                "OperationalError: the app database closed the connection unexpectedly during the probe",
            ),
        )


@pytest.fixture(scope="session")
def seeded_for_ui(stack: TestStack) -> Iterator[Seeded]:
    """:func:`seeded`'s rows and :func:`seed_newcomer_shapes`, in a database of its own (the other tests' figures
    stay as they are)."""
    url = _create_database(stack, "ui")
    now = datetime.now(UTC).replace(microsecond=0)
    calls = seed(url, now)
    seed_newcomer_shapes(url, now)
    yield Seeded(url=url, now=now, limits=limits_for(now), calls=calls)
    _drop_database(stack, url)


@pytest.fixture(scope="session")
def seeded(stack: TestStack) -> Iterator[Seeded]:
    """A ``sync`` database at head with the known rows, seeded relative to the session's start."""
    url = _create_database(stack, "seeded")
    now = datetime.now(UTC).replace(microsecond=0)
    calls = seed(url, now)
    yield Seeded(url=url, now=now, limits=limits_for(now), calls=calls)
    _drop_database(stack, url)


@pytest.fixture(scope="session")
def empty_db(stack: TestStack) -> Iterator[str]:
    """A ``sync`` database at head with no rows."""
    url = _create_database(stack, "empty")
    yield url
    _drop_database(stack, url)


@pytest.fixture(scope="session")
def early_db(stack: TestStack) -> Iterator[str]:
    """A ``sync`` database before the publish and webhook migrations (only the client's tables, 0002)."""
    url = _create_database(stack, "early", "0002")
    yield url
    _drop_database(stack, url)
