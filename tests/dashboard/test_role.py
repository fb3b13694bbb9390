"""The dashboard's database role (migration 0006): it reads every panel's figures and can write nothing."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from include.symphonics.dashboard import queries
from include.symphonics.db import roles
from tests.dashboard.conftest import Seeded
from tests.fixtures.roles import as_login, login_in
from tests.fixtures.stack import TestStack

pytestmark = pytest.mark.integration


@pytest.fixture
def dashboard_url(stack: TestStack, seeded: Seeded) -> Iterator[str]:
    with login_in(stack.server, roles.DASHBOARD_ROLE) as (login, password):
        yield as_login(seeded.url, login, password)


def test_the_dashboard_role_reads_every_panel(dashboard_url: str, seeded: Seeded) -> None:
    with psycopg.connect(dashboard_url, autocommit=True) as conn:
        document = queries.collect(conn, seeded.limits, seeded.now)
        with psycopg.connect(seeded.url, autocommit=True) as superuser:
            as_superuser = queries.collect(superuser, seeded.limits, seeded.now)

    statuses = {name: panel["status"] for name, panel in document["panels"].items()}
    assert "error" not in statuses.values(), document["panels"]
    assert document["panels"] == as_superuser["panels"]
    assert document["panels"]["rejections"]["refusals"] == 3


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO symphonics.api_calls (client_id, priority_class, operation, method, path) "
        "VALUES ('x', 'ops', 'token', 'POST', '/')",
        "UPDATE symphonics.interventions_ledger SET state = 'pending'",
        "DELETE FROM symphonics.publish_runs",
        "UPDATE symphonics.webhook_events SET processed_at = now()",
        "DELETE FROM analytics.snapshot_changes",
        "CREATE TABLE symphonics.planted (id int)",
        # The ledger's copies of the app's rows (personal data) are not the dashboard's to read.
        "SELECT source FROM symphonics.interventions_ledger LIMIT 1",
        "SELECT payload, sent_payload FROM symphonics.interventions_ledger LIMIT 1",
        "SELECT * FROM symphonics.api_tokens LIMIT 1",
    ],
)
def test_the_dashboard_role_cannot_write_nor_read_personal_data(dashboard_url: str, statement: str) -> None:
    with psycopg.connect(dashboard_url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)
