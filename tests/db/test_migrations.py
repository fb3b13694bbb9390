"""Every migration of the ``sync`` database, one after the other: its upgrade adds what it should, its downgrade
takes back exactly what its upgrade did (no object left behind, none lost), and it upgrades again to the same schema.

The schema is compared as a catalog snapshot of this database (schemas, relations, columns, constraints, indexes,
views, functions, triggers, privileges, default privileges). Roles are cluster-wide and created only if missing, so
they are not part of it; their grants in this database are.
"""

# ruff: noqa: S608 -- the catalog queries are built from this module's own column names, never from input
from __future__ import annotations

import psycopg
from alembic.script import ScriptDirectory

from include.symphonics.db import migrate

#: A few objects each revision must add, by name (a new revision needs no entry: the round trip still covers it).
ADDS: dict[str, set[str]] = {
    "0001": {"schema symphonics", "table symphonics.healthchecks"},
    "0002": {
        "table symphonics.api_calls",
        "table symphonics.api_tokens",
        "table symphonics.quota_class_usage",
        "table symphonics.quota_windows",
    },
    "0003": {
        "table symphonics.interventions_ledger",
        "table symphonics.publish_watermarks",
        "table symphonics.pdl_validations",
        "table symphonics.pdl_lookups",
        "table symphonics.installer_validations",
        "table symphonics.publish_runs",
        "sequence symphonics.publish_claim_key_seq",
    },
    "0004": {
        "table symphonics.webhook_events",
        "table symphonics.webhook_rejections",
        "table symphonics.status_poll_queue",
        "constraint symphonics.webhook_events.webhook_events_pkey",
        "constraint symphonics.webhook_events.webhook_events_dedup_key_key",
    },
    "0005": {
        "schema analytics",
        "table symphonics.status_history",
        "table symphonics.intervention_sync_state",
        "table symphonics.app_interventions_copy",
        "table symphonics.alerts",
        "table analytics.reconciliation_snapshots",
        "table analytics.snapshot_builds",
        "view analytics.interventions_current",
        "view analytics.rejections",
        "view analytics.time_to_approval",
        "view analytics.quota_daily",
    },
    "0006": set(),  # grants only: see the privileges in the snapshot
    "0007": {"function analytics.mask_personal_data(text)"},
    "0008": {
        "table symphonics.webhook_refusals",
        "column symphonics.webhook_events.ordering_at",
        "column symphonics.intervention_sync_state.partner_status_source",
        "index symphonics.webhook_events_pending_ordering_at_idx",
    },
    "0009": {
        "table symphonics.privacy_erasures",
        "function symphonics.redact_personal(jsonb,text[],jsonb)",
        "column symphonics.interventions_ledger.minimised_at",
        "column symphonics.interventions_ledger.personal_data_removed_at",
        "column symphonics.interventions_ledger.erased_at",
    },
    "0010": {"table symphonics.completion_watchers", "index symphonics.interventions_ledger_published_at_idx"},
}

SCHEMAS = ["symphonics", "analytics"]


def _grants(acl: str, owner: str) -> str:
    """SQL: the privileges an ACL grants to others than the owner (a NULL ACL and the owner's explicit one agree)."""
    return (
        "(SELECT coalesce(string_agg(pg_get_userbyid(g.grantee) || ':' || g.privilege_type, ',' "
        "ORDER BY pg_get_userbyid(g.grantee), g.privilege_type), '') "
        f"FROM aclexplode({acl}) g WHERE g.grantee <> {owner})"
    )


_CATALOG = {
    "schema": (
        "SELECT 'schema ' || nspname, " + _grants("nspacl", "nspowner") + " FROM pg_namespace "
        "WHERE nspname = ANY(%(schemas)s)"
    ),
    "relation": (
        "SELECT CASE c.relkind WHEN 'r' THEN 'table ' WHEN 'v' THEN 'view ' WHEN 'S' THEN 'sequence ' "
        "WHEN 'i' THEN 'index ' WHEN 'm' THEN 'matview ' ELSE c.relkind::text || ' ' END "
        "|| n.nspname || '.' || c.relname, "
        "concat_ws(' | ', " + _grants("c.relacl", "c.relowner") + ", "
        "CASE c.relkind WHEN 'v' THEN pg_get_viewdef(c.oid) WHEN 'i' THEN pg_get_indexdef(c.oid) END) "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY(%(schemas)s)"
    ),
    "column": (
        "SELECT 'column ' || n.nspname || '.' || c.relname || '.' || a.attname, concat_ws(' | ', "
        "format_type(a.atttypid, a.atttypmod), a.attnotnull::text, pg_get_expr(d.adbin, d.adrelid), "
        + _grants("a.attacl", "c.relowner")
        + ") "
        "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
        "WHERE n.nspname = ANY(%(schemas)s) AND a.attnum > 0 AND NOT a.attisdropped"
    ),
    "constraint": (
        "SELECT 'constraint ' || n.nspname || '.' || c.relname || '.' || k.conname, pg_get_constraintdef(k.oid) "
        "FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = ANY(%(schemas)s)"
    ),
    "function": (
        "SELECT 'function ' || n.nspname || '.' || p.proname || '(' || "
        "replace(oidvectortypes(p.proargtypes), ', ', ',') || ')', "
        "md5(pg_get_functiondef(p.oid)) || ' | ' || coalesce(p.proacl::text, 'default') "
        "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = ANY(%(schemas)s)"
    ),
    "trigger": (
        "SELECT 'trigger ' || n.nspname || '.' || c.relname || '.' || t.tgname, pg_get_triggerdef(t.oid) "
        "FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = ANY(%(schemas)s) AND NOT t.tgisinternal"
    ),
    "default privileges": (
        "SELECT 'default privileges ' || coalesce(n.nspname, '*') || ' ' || d.defaclobjtype::text || ' ' "
        "|| pg_get_userbyid(d.defaclrole), d.defaclacl::text "
        "FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace"
    ),
}


def _snapshot(url: str) -> dict[str, str]:
    """Every object of the project's schemas in this database, by name, with what defines it."""
    with psycopg.connect(url) as conn:
        return {
            name: definition
            for query in _CATALOG.values()
            for name, definition in conn.execute(query, {"schemas": SCHEMAS} if "%(schemas)s" in query else None)
        }


def _revisions(url: str) -> list[tuple[str, str]]:
    """``(revision, down_revision)`` from the first to head (``base`` below the first)."""
    script = ScriptDirectory.from_config(migrate.alembic_config(url))
    walked = [(rev.revision, str(rev.down_revision or "base")) for rev in script.walk_revisions("base", "heads")]
    return list(reversed(walked))


def _diff(expected: dict[str, str], found: dict[str, str]) -> str:
    left = sorted(set(found) - set(expected))
    lost = sorted(set(expected) - set(found))
    changed = [
        f"{name}: {expected[name][:150]!r} became {found[name][:150]!r}"
        for name in sorted(set(expected) & set(found))
        if expected[name] != found[name]
    ]
    return f"left behind {left}, lost {lost}, changed {changed}"


def test_each_revision_adds_its_objects_and_its_downgrade_takes_back_exactly_what_it_did(scratch_db: str) -> None:
    revisions = _revisions(scratch_db)
    assert [rev for rev, _ in revisions][: len(ADDS)] == sorted(ADDS)
    before = _snapshot(scratch_db)
    assert before == {}
    for revision, down in revisions:
        migrate.upgrade(scratch_db, revision)
        after = _snapshot(scratch_db)
        assert after != before, f"{revision} changes nothing"
        missing = ADDS.get(revision, set()) - (set(after) - set(before))
        assert not missing, f"{revision} did not add {sorted(missing)}"

        migrate.downgrade(scratch_db, down)
        reverted = _snapshot(scratch_db)
        assert reverted == before, f"downgrading {revision} to {down}: {_diff(before, reverted)}"

        migrate.upgrade(scratch_db, revision)
        again = _snapshot(scratch_db)
        assert again == after, f"{revision} upgraded again: {_diff(after, again)}"
        before = after


def test_every_constraint_at_head_is_named(scratch_db: str) -> None:
    migrate.upgrade(scratch_db)
    with psycopg.connect(scratch_db) as conn:
        unnamed = conn.execute(
            "SELECT n.nspname || '.' || k.conname FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace "
            "WHERE n.nspname = ANY(%(schemas)s) AND k.conname ~ '^[0-9]'",
            {"schemas": SCHEMAS},
        ).fetchall()
    assert unnamed == []
