"""Connection tests are ops calls counted alike by the dashboard and ``analytics.quota_daily``, every client id
included, and never shown as partner failures; the partner's stated limit and floor show on the quota panel
(issues 23 and 25). Read as the dashboard's and the analysts' roles."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from include.symphonics.core.quota_policy import CHECK_OPERATION
from include.symphonics.dashboard import queries
from include.symphonics.db import roles
from tests.dashboard.conftest import CLIENT_ID, _create_database, _drop_database, limits_for
from tests.fixtures.roles import as_login, login_in
from tests.fixtures.stack import TestStack

pytestmark = pytest.mark.integration

_INSERT = (
    "INSERT INTO symphonics.api_calls (called_at, client_id, priority_class, operation, method, path, status, "
    "error_code, latency_ms, attempt, token_request) VALUES (%s, %s, %s, %s, 'POST', '/auth/token', %s, %s, %s, 1, "
    "%s)"
)


@contextmanager
def _connected_as(stack: TestStack, role: str, url: str) -> Iterator[psycopg.Connection]:
    with (
        login_in(stack.server, role) as (login, password),
        psycopg.connect(as_login(url, login, password), autocommit=True) as conn,
    ):
        yield conn


@pytest.fixture(scope="module")
def checks_db(stack: TestStack) -> Iterator[tuple[str, datetime]]:
    url = _create_database(stack, "checks")
    now = datetime.now(UTC).replace(microsecond=0)
    rows: list[tuple[Any, ...]] = [
        # A run's own calls: a token (ops) and three publish calls.
        (now - timedelta(seconds=50), CLIENT_ID, "ops", "obtain_token", 200, None, 80.0, True),
        *[
            (now - timedelta(seconds=40 + i), CLIENT_ID, "publish", "create_intervention", 201, None, 120.0, False)
            for i in range(3)
        ],
        # The Test button: a wrong secret, an unreachable host (both the configured client id), a wrong client id.
        (now - timedelta(seconds=30), CLIENT_ID, "ops", CHECK_OPERATION, 401, "invalid_client", 30.0, True),
        (now - timedelta(seconds=20), CLIENT_ID, "ops", CHECK_OPERATION, None, "ConnectionError", 5000.0, True),
        (now - timedelta(seconds=10), "a-typo-client-id", "ops", CHECK_OPERATION, 401, "invalid_client", 30.0, True),
    ]
    with psycopg.connect(url) as conn:
        for row in rows:
            conn.execute(_INSERT, row)
        conn.execute(
            "INSERT INTO symphonics.quota_windows (client_id, partner_per_minute, server_remaining, server_reset_at) "
            "VALUES (%s, 40, 0, %s)",
            (CLIENT_ID, now + timedelta(seconds=600)),
        )
    yield url, now
    _drop_database(stack, url)


def test_the_dashboard_and_quota_daily_count_ops_calls_alike_checks_included(
    stack: TestStack, checks_db: tuple[str, datetime]
) -> None:
    url, now = checks_db
    limits = limits_for(now)
    with _connected_as(stack, roles.DASHBOARD_ROLE, url) as conn:
        quota = queries.quota_panel(conn, limits, now)
        breaker = queries.breaker_panel(conn, limits, now)
        latency = queries.latency_panel(conn, limits, now)
    with _connected_as(stack, roles.ANALYST_ROLE, url) as conn:
        daily = {
            row[0]: (int(row[1]), int(row[2]))
            for row in conn.execute(
                "SELECT priority_class, calls, check_calls FROM analytics.quota_daily WHERE day_utc = %s",
                ((now - timedelta(seconds=30)).date(),),
            )
        }

    classes = {item["name"]: item for item in quota["classes"]}
    assert (classes["ops"]["used_today"], classes["ops"]["checks"]) == (4, 3)
    assert (classes["publish"]["used_today"], classes["publish"]["checks"]) == (3, 0)
    assert daily["ops"] == (4, 3)  # the same figures, the typo'd client id's check included
    assert daily["publish"] == (3, 0)
    assert quota["checks"] == 3
    # A check that found the host unreachable is no partner failure; its latency is not the partner's.
    assert (breaker["state"], breaker["failed_calls"]) == ("closed", 0)
    assert latency["calls"] == 4


def test_the_quota_panel_shows_the_partners_lower_limit_and_its_floor(
    stack: TestStack, checks_db: tuple[str, datetime]
) -> None:
    url, now = checks_db
    limits = limits_for(now)
    with _connected_as(stack, roles.DASHBOARD_ROLE, url) as conn:
        quota = queries.quota_panel(conn, limits, now)
    assert (quota["minute_limit"], quota["configured_minute_limit"], quota["partner_per_minute"]) == (40, 100, 40)
    assert (quota["day_limit"], quota["partner_per_day"]) == (5000, None)
    assert quota["partner_floor_until"] == now + timedelta(seconds=600)
