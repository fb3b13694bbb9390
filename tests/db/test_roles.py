"""The service roles of migration 0006: each service can do its work and nothing else (logins as ``make run`` makes
them, on a migrated scratch database)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from include.symphonics.db import migrate, roles
from include.symphonics.webhooks import WebhookSettings, create_webhook_app
from tests.fixtures.roles import as_login, login_in
from tests.fixtures.stack import TestStack
from tests.webhooks.conftest import SECRET, encode, signed_headers, status_update

pytestmark = pytest.mark.integration


@pytest.fixture
def migrated(make_scratch_database: Callable[[], str]) -> str:
    url = make_scratch_database()
    migrate.upgrade(url)
    return url


@pytest.fixture
def receiver_url(stack: TestStack, migrated: str) -> Iterator[str]:
    with login_in(stack.server, roles.RECEIVER_ROLE) as (login, password):
        yield as_login(migrated, login, password)


@pytest.fixture
def pipeline_url(stack: TestStack, migrated: str) -> Iterator[str]:
    with login_in(stack.server, roles.PIPELINE_ROLE) as (login, password):
        yield as_login(migrated, login, password)


def _refused(url: str, statement: str, params: Any = None) -> None:
    with psycopg.connect(url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement, params)


def test_the_receiver_stores_events_as_its_role_and_cannot_read_the_ledger(receiver_url: str, migrated: str) -> None:
    app = create_webhook_app(WebhookSettings(secret=SECRET, dsn=receiver_url))
    with TestClient(app, raise_server_exceptions=True) as client:
        body = encode(status_update("sym_00000001"))
        assert client.post("/", content=body, headers=signed_headers(body)).status_code == 200
        assert client.post("/", content=body, headers=signed_headers(body, "a wrong secret")).status_code == 401
    app.state.receiver.close()
    with psycopg.connect(migrated) as conn:
        assert conn.execute("SELECT count(*) FROM symphonics.webhook_events").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM symphonics.webhook_rejections").fetchone() == (1,)

    for table in ("interventions_ledger", "status_history", "api_tokens", "api_calls"):
        _refused(receiver_url, f"SELECT * FROM symphonics.{table} LIMIT 1")  # noqa: S608 (the test's names)
    _refused(receiver_url, "SELECT * FROM analytics.rejections LIMIT 1")
    _refused(receiver_url, "UPDATE symphonics.webhook_events SET processed_at = now()")
    _refused(receiver_url, "DELETE FROM symphonics.webhook_events")
    _refused(receiver_url, "CREATE TABLE symphonics.planted (id int)")


def test_the_pipeline_writes_its_tables_but_never_their_definition(pipeline_url: str) -> None:
    with psycopg.connect(pipeline_url) as conn:
        conn.execute(
            "INSERT INTO symphonics.interventions_ledger (external_id, app_intervention_id, app_status,"
            " app_updated_at, source, source_fingerprint) VALUES ('int_1', 1, 'completed', now(), '{}', 'fp')"
        )
        conn.execute("UPDATE symphonics.interventions_ledger SET state = 'ready'")
        assert conn.execute("SELECT nextval('symphonics.publish_claim_key_seq')").fetchone() is not None
        conn.execute("DELETE FROM analytics.snapshot_builds")
        assert conn.execute("SELECT count(*) FROM analytics.rejections").fetchone() == (0,)
    _refused(pipeline_url, "DROP TABLE symphonics.interventions_ledger")
    _refused(pipeline_url, "ALTER TABLE symphonics.api_calls ADD COLUMN planted int")
    _refused(pipeline_url, "CREATE TABLE symphonics.planted (id int)")
    _refused(pipeline_url, "TRUNCATE symphonics.interventions_ledger")


def test_the_roles_are_nologin_groups_and_a_downgrade_takes_their_grants_back(migrated: str) -> None:
    with psycopg.connect(migrated) as conn:
        rows = conn.execute(
            "SELECT rolname, rolcanlogin, rolpassword IS NULL FROM pg_authid WHERE rolname = ANY(%s) ORDER BY 1",
            (list(roles.SERVICE_LOGINS),),
        ).fetchall()
    assert rows == [(role, False, True) for role in sorted(roles.SERVICE_LOGINS)]

    migrate.downgrade(migrated, "0005")
    with psycopg.connect(migrated) as conn:
        granted = conn.execute(
            "SELECT count(*) FROM information_schema.role_table_grants WHERE grantee = ANY(%s)",
            (list(roles.SERVICE_LOGINS),),
        ).fetchone()
        columns = conn.execute(
            "SELECT count(*) FROM information_schema.column_privileges WHERE grantee = ANY(%s)",
            (list(roles.SERVICE_LOGINS),),
        ).fetchone()
        rejections = [
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'analytics'"
                " AND table_name = 'rejections' ORDER BY ordinal_position"
            )
        ]
        assert conn.execute(
            "SELECT has_table_privilege('symphonics_analyst', 'analytics.rejections', 'SELECT')"
        ).fetchone() == (True,)
    assert granted == (0,)
    assert columns == (0,)
    assert "decided_by" not in rejections
    assert rejections[-1] == "postal_code"

    migrate.upgrade(migrated)
    with psycopg.connect(migrated) as conn:
        assert conn.execute(
            "SELECT has_table_privilege('symphonics_dashboard', 'analytics.rejections', 'SELECT'),"
            " has_table_privilege('symphonics_analyst', 'analytics.rejections', 'SELECT'),"
            " has_table_privilege('symphonics_webhook_receiver', 'symphonics.interventions_ledger', 'SELECT')"
        ).fetchone() == (True, True, False)
