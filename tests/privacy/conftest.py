"""Fixtures of the privacy tests: the publish and reconciliation worlds (seeded app, sandbox, ledger), and the
``sync`` database as a login of the pipeline's role, the role the erasure, minimisation and retention run as in
production (``make run``, compose). Tests arrange and inspect as the owner."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import psycopg
import pytest

from include.symphonics.db import roles
from tests.fixtures.roles import as_login, login_in
from tests.fixtures.stack import TestStack
from tests.reconcile.conftest import *  # noqa: F403


@contextmanager
def connect_sync_as(stack: TestStack, sync_dsn: str, monkeypatch: pytest.MonkeyPatch, role: str) -> Iterator[str]:
    """``sync`` as a fresh login of ``role``, also behind the connection ``sync_db``; yields its URL."""
    database = psycopg.conninfo.conninfo_to_dict(sync_dsn)["dbname"]
    admin = urlsplit(stack.server.admin_url)
    with login_in(stack.server, role) as (login, password):
        conn = {"conn_type": "postgres", "host": stack.server.socket_dir, "port": admin.port, "schema": database}
        monkeypatch.setenv("AIRFLOW_CONN_SYNC_DB", json.dumps({**conn, "login": login, "password": password}))
        yield as_login(sync_dsn, login, password)


@pytest.fixture
def pipeline_dsn(stack: TestStack, sync_dsn: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``sync`` as a login of ``symphonics_pipeline`` (its URL, and ``sync_db`` for the DAGs and steps)."""
    with connect_sync_as(stack, sync_dsn, monkeypatch, roles.PIPELINE_ROLE) as url:
        yield url
