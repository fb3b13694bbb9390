"""The pipeline's database role (migration 0006) is enough for its work: the demo data set published and
reconciled with ``sync_db`` as a login of ``symphonics_pipeline``, as ``make run`` connects it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest

from include.symphonics.db import roles
from tests.fixtures.roles import login_in
from tests.fixtures.stack import TestStack
from tests.publish.conftest import PublishWorld
from tests.reconcile.conftest import WebhookFeed

pytestmark = pytest.mark.integration


@pytest.fixture
def as_pipeline(stack: TestStack, reconcile_world: PublishWorld) -> Iterator[str]:
    """``sync_db`` as a fresh login of the pipeline's role; yields the login."""
    database = psycopg.conninfo.conninfo_to_dict(reconcile_world.sync_dsn)["dbname"]
    admin = urlsplit(stack.server.admin_url)
    with login_in(stack.server, roles.PIPELINE_ROLE) as (login, password):
        conn = {"conn_type": "postgres", "host": stack.server.socket_dir, "port": admin.port, "schema": database}
        reconcile_world.monkeypatch.setenv(
            "AIRFLOW_CONN_SYNC_DB", json.dumps({**conn, "login": login, "password": password})
        )
        yield login


def test_the_demo_publishes_and_reconciles_as_the_pipeline_role(
    reconcile_world: PublishWorld,
    as_pipeline: str,
    publish_dag: Any,
    reconcile_dag: Any,
    webhook_feed: WebhookFeed,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from include.symphonics.db import SYNC_CONN_ID, dsn

    assert psycopg.conninfo.conninfo_to_dict(dsn(SYNC_CONN_ID))["user"] == as_pipeline
    monkeypatch.setenv("SYMPHONICS_RECONCILE_POLL_AFTER_HOURS", "0")
    world = reconcile_world
    publish = publish_dag.test()
    assert publish.state == "success", {ti.task_id: ti.state for ti in publish.get_task_instances()}
    expected = {state.value: count for state, count in world.expected.state_counts.items() if count}
    assert world.states() == expected
    world.sandbox.tick(steps=2)
    webhook_feed.deliver_all(world.sandbox.webhook_events())
    reconcile = reconcile_dag.test()
    assert reconcile.state == "success", {ti.task_id: ti.state for ti in reconcile.get_task_instances()}
    with psycopg.connect(world.sync_dsn) as conn:
        snapshot_rows = conn.execute("SELECT count(*) FROM analytics.reconciliation_snapshots").fetchone()
        refusals = conn.execute("SELECT count(*) FROM analytics.rejections").fetchone()
    assert snapshot_rows is not None
    assert snapshot_rows[0] == len(world.expected.outcomes) - expected.get("out_of_scope", 0)
    assert refusals == (expected["rejected_validation"] + len(world.expected.partner_rejects_later),)
