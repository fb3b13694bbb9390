"""The optional write-back (off by default): the partner's latest status, notes and Symphonics id land in the ONE
table this project owns in the app's database, ``symphonics_sync.intervention_status``; the app's own tables are
never written, and with the switch off nothing at all is created or written there.

Driven through the ``copy_app_state`` task body (``steps.run_copy_app_state``), which holds the switch, with ledger
and sync-state rows planted in the test sync database (no partner needed)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from tests.publish.conftest import clean_pipeline_tables
from tests.reconcile.conftest import clean_reconcile_tables

OWNED_SCHEMA = "symphonics_sync"
STATUS_TABLE = "symphonics_sync.intervention_status"

#: The partner's view of the planted published interventions: (status, notes); None: no news from the partner yet.
PARTNER: tuple[tuple[str, str | None] | None, ...] = (
    ("approved", None),
    ("rejected", "photos missing"),
    ("processing", "under review"),
    None,
)


@dataclass
class WritebackWorld:
    app_dsn: str
    sync_dsn: str
    published: dict[str, str]  # external_id -> symphonics_id
    unpublished: list[str]


def _app_objects(app_dsn: str) -> set[tuple[str, str, str]]:
    """Every schema-qualified relation of the app's database outside the catalogs: (schema, name, relkind)."""
    with psycopg.connect(app_dsn) as conn:
        rows = conn.execute(
            "SELECT n.nspname, c.relname, c.relkind::text FROM pg_class AS c "
            "JOIN pg_namespace AS n ON n.oid = c.relnamespace "
            "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%%' "
            "AND n.nspname NOT LIKE 'pg_temp%%'"
        ).fetchall()
    return {(str(s), str(n), str(k)) for s, n, k in rows}


def _app_schemas(app_dsn: str) -> set[str]:
    with psycopg.connect(app_dsn) as conn:
        return {str(row[0]) for row in conn.execute("SELECT nspname FROM pg_namespace").fetchall()}


def _app_checksums(app_dsn: str) -> dict[str, tuple[int, str | None]]:
    """Row count and an order-independent md5 of every table of the app (the project's own schema excluded)."""
    tables = sorted(
        (schema, name) for schema, name, kind in _app_objects(app_dsn) if kind in ("r", "p") and schema != OWNED_SCHEMA
    )
    assert tables, "the app database has no table: the checksum would prove nothing"
    sums: dict[str, tuple[int, str | None]] = {}
    with psycopg.connect(app_dsn) as conn:
        for schema, name in tables:
            row = conn.execute(
                sql.SQL("SELECT count(*), md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {} AS t").format(
                    sql.Identifier(schema, name)
                )
            ).fetchone()
            assert row is not None
            sums[f"{schema}.{name}"] = (int(row[0]), row[1])
    return sums


def _status_rows(app_dsn: str) -> dict[str, dict[str, Any]]:
    with psycopg.connect(app_dsn, row_factory=dict_row) as conn:
        rows = conn.execute(f"SELECT * FROM {STATUS_TABLE}").fetchall()  # noqa: S608 - a constant
    return {row["external_id"]: row for row in rows}


def _set_partner_status(sync_dsn: str, external_id: str, symphonics_id: str, status: str, notes: str | None) -> None:
    with psycopg.connect(sync_dsn) as conn:
        conn.execute(
            "INSERT INTO symphonics.intervention_sync_state (external_id, symphonics_id, partner_status, "
            "partner_status_at, partner_notes, ledger_state) VALUES (%s, %s, %s, now(), %s, 'published') "
            "ON CONFLICT (external_id) DO UPDATE SET partner_status = EXCLUDED.partner_status, "
            "partner_status_at = EXCLUDED.partner_status_at, partner_notes = EXCLUDED.partner_notes",
            (external_id, symphonics_id, status, notes),
        )


@pytest.fixture
def writeback_world(
    sync_dsn: str, fresh_app_db: Callable[[], str], stack: Any, monkeypatch: pytest.MonkeyPatch
) -> WritebackWorld:
    """A seeded copy of the app behind ``app_db``; a ledger with a few published interventions of it (and one not
    published), the partner's news about most of them in ``intervention_sync_state``; the switch unset."""
    from tests.fixtures.stack import airflow_connection_json

    app_dsn = fresh_app_db()
    database = psycopg.conninfo.conninfo_to_dict(app_dsn).get("dbname")
    monkeypatch.setenv("AIRFLOW_CONN_APP_DB", airflow_connection_json(stack.server, str(database)))
    monkeypatch.delenv("SYMPHONICS_WRITEBACK", raising=False)
    monkeypatch.setenv("AIRFLOW_VAR_SYMPHONICS_WRITEBACK", "off")
    clean_pipeline_tables(sync_dsn)
    clean_reconcile_tables(sync_dsn)

    with psycopg.connect(app_dsn) as conn:
        app_rows = conn.execute(
            "SELECT external_id, id, status, updated_at FROM public.interventions ORDER BY id LIMIT %s",
            (len(PARTNER) + 1,),
        ).fetchall()
    assert len(app_rows) == len(PARTNER) + 1
    published: dict[str, str] = {}
    unpublished: list[str] = []
    published_at = datetime.now(UTC) - timedelta(days=2)
    with psycopg.connect(sync_dsn) as conn:
        for index, (external_id, app_id, status, updated_at) in enumerate(app_rows):
            is_published = index < len(PARTNER)
            symphonics_id = f"sym_wb_{index:04d}" if is_published else None
            conn.execute(
                "INSERT INTO symphonics.interventions_ledger (external_id, app_intervention_id, app_status, "
                "app_updated_at, source, source_fingerprint, state, symphonics_id, published_at) "
                "VALUES (%s, %s, %s, %s, %s, 'fp', %s, %s, %s)",
                (
                    external_id,
                    app_id,
                    status,
                    updated_at,
                    Jsonb({"external_id": external_id}),
                    "published" if is_published else "pending",
                    symphonics_id,
                    published_at if is_published else None,
                ),
            )
            if is_published:
                published[external_id] = str(symphonics_id)
            else:
                unpublished.append(external_id)
    for (external_id, symphonics_id), news in zip(published.items(), PARTNER, strict=True):
        if news is not None:
            _set_partner_status(sync_dsn, external_id, symphonics_id, *news)
    return WritebackWorld(app_dsn=app_dsn, sync_dsn=sync_dsn, published=published, unpublished=unpublished)


def _copy_app_state(run_id: str) -> dict[str, int]:
    from include.symphonics.reconcile import steps

    return steps.run_copy_app_state(run_id=run_id)


def test_writeback_is_off_by_default_and_then_touches_nothing_in_the_app(writeback_world: WritebackWorld) -> None:
    app_dsn = writeback_world.app_dsn
    objects, sums = _app_objects(app_dsn), _app_checksums(app_dsn)

    result = _copy_app_state("wb-off")

    assert "written" not in result
    assert result["copied"] > 0  # the task itself ran: the app was read
    assert OWNED_SCHEMA not in _app_schemas(app_dsn)
    assert _app_objects(app_dsn) == objects
    assert _app_checksums(app_dsn) == sums


def test_writeback_writes_only_its_own_table_and_is_idempotent(
    writeback_world: WritebackWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = writeback_world
    objects, sums = _app_objects(world.app_dsn), _app_checksums(world.app_dsn)
    monkeypatch.setenv("SYMPHONICS_WRITEBACK", "on")

    first = _copy_app_state("wb-1")

    assert first["written"] == len(world.published)
    # The only new objects are the project's own schema's (its table, its key index, its TOAST-free relations).
    created = _app_objects(world.app_dsn) - objects
    assert {schema for schema, _, _ in created} == {OWNED_SCHEMA}
    assert (OWNED_SCHEMA, "intervention_status", "r") in created
    assert _app_objects(world.app_dsn) - created == objects
    assert _app_checksums(world.app_dsn) == sums

    rows = _status_rows(world.app_dsn)
    assert set(rows) == set(world.published)  # published ones only: not the pending intervention
    assert not set(world.unpublished) & set(rows)
    for (external_id, symphonics_id), news in zip(world.published.items(), PARTNER, strict=True):
        row = rows[external_id]
        assert row["symphonics_id"] == symphonics_id
        assert row["ledger_state"] == "published"
        if news is None:
            assert row["partner_status"] is None
        else:
            assert (row["partner_status"], row["partner_notes"]) == news
            assert row["partner_status_at"] is not None

    # Again with nothing new: the same rows, none rewritten.
    second = _copy_app_state("wb-2")
    assert second["written"] == 0
    assert _status_rows(world.app_dsn) == rows

    # The partner changes its mind about the rejected one: only that row is updated.
    rejected_id = next(
        eid for eid, news in zip(world.published, PARTNER, strict=True) if news and news[0] == "rejected"
    )
    _set_partner_status(world.sync_dsn, rejected_id, world.published[rejected_id], "approved", "proof accepted")
    third = _copy_app_state("wb-3")
    assert third["written"] == 1
    after = _status_rows(world.app_dsn)
    assert set(after) == set(rows)
    assert after[rejected_id]["partner_status"] == "approved"
    assert after[rejected_id]["partner_notes"] == "proof accepted"
    assert after[rejected_id]["updated_at"] >= rows[rejected_id]["updated_at"]
    assert {eid: row for eid, row in after.items() if eid != rejected_id} == {
        eid: row for eid, row in rows.items() if eid != rejected_id
    }

    # Through all of it, the app's own tables and objects never changed.
    assert _app_checksums(world.app_dsn) == sums
    assert _app_objects(world.app_dsn) - created == objects


def test_writeback_is_switched_on_by_the_airflow_variable_too(
    writeback_world: WritebackWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_SYMPHONICS_WRITEBACK", "on")

    result = _copy_app_state("wb-variable")

    assert result["written"] == len(writeback_world.published)
    assert set(_status_rows(writeback_world.app_dsn)) == set(writeback_world.published)
