"""One state machine: the ledger's states, reasons and transitions are the product's enums everywhere.

The SQL files, the migrations' constraints, the dashboard and the demo's oracle name the same states and
codes as :mod:`include.symphonics.core.states`, and every move a SQL file writes is in its transitions.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import psycopg
import pytest

from include.symphonics.core.states import (
    TRANSITIONS,
    WORK_STATES,
    LedgerState,
    Reason,
    check_transition,
    sources_of,
)
from include.symphonics.db import migrate

ROOT = Path(__file__).resolve().parents[2]
SQL_ROOT = ROOT / "include" / "symphonics" / "sql"
VERSIONS = ROOT / "include" / "symphonics" / "db" / "migrations" / "versions"

# `state = 'x'`, `state <> 'x'`, `state IN ('x', 'y')` (any alias, the ledger's column or the snapshot's copy).
_COLUMN = r"(?<![\w%])(?:\w+\.)?(?P<column>state|ledger_state|state_reason|ledger_reason)"
_COMPARED = re.compile(_COLUMN + r"\s*(?:=|<>|!=)\s*'(?P<one>\w+)'", re.IGNORECASE)
_LISTED = re.compile(_COLUMN + r"\s+(?:NOT\s+)?IN\s*\((?P<many>[^)%]*)\)", re.IGNORECASE)
_STATE_COLUMNS = {"state", "ledger_state"}


def _literals(text: str) -> dict[str, set[str]]:
    """The quoted values compared with a state or a reason column in ``text``: {"state": …, "reason": …}."""
    found: dict[str, set[str]] = {"state": set(), "reason": set()}
    for match in _COMPARED.finditer(text):
        kind = "state" if match["column"].lower() in _STATE_COLUMNS else "reason"
        found[kind].add(match["one"])
    for match in _LISTED.finditer(text):
        kind = "state" if match["column"].lower() in _STATE_COLUMNS else "reason"
        found[kind] |= set(re.findall(r"'(\w+)'", match["many"]))
    return found


def _sql_files() -> list[Path]:
    return sorted(SQL_ROOT.rglob("*.sql"))


def test_the_scan_reads_the_one_sql_tree_of_the_product() -> None:
    """Every ``.sql`` file of the product sits in the one tree the scans below read (the receiver's too)."""
    everywhere = sorted((ROOT / "include").rglob("*.sql"))
    assert [path for path in everywhere if not path.is_relative_to(SQL_ROOT)] == []
    read = {path.parent.relative_to(SQL_ROOT).as_posix() for path in _sql_files()}
    assert read >= {"client", "dashboard", "db", "privacy", "publish", "reconcile", "webhooks"}


def _migration(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, VERSIONS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_scanner_finds_what_it_looks_for() -> None:
    found = _literals(
        "WHERE l.state = 'ready' AND state IN ('sending', 'bogus') AND state_reason <> 'too_many_attempts' "
        "AND status = 'completed' AND state = ANY(%(from_states)s)"
    )
    assert found == {"state": {"ready", "sending", "bogus"}, "reason": {"too_many_attempts"}}


def test_every_state_and_reason_a_sql_file_names_is_the_products() -> None:
    states: dict[str, set[str]] = {}
    reasons: dict[str, set[str]] = {}
    for path in _sql_files():
        found = _literals(path.read_text(encoding="utf-8"))
        for value in found["state"]:
            states.setdefault(value, set()).add(path.name)
        for value in found["reason"]:
            reasons.setdefault(value, set()).add(path.name)
    assert {value: files for value, files in states.items() if value not in set(LedgerState)} == {}
    assert {value: files for value, files in reasons.items() if value not in set(Reason)} == {}
    assert len(states) >= 10  # the scan reads the files: most states are named somewhere


def test_every_state_a_migration_names_is_the_products() -> None:
    unknown = {}
    for path in sorted(VERSIONS.glob("*.py")):
        found = _literals(path.read_text(encoding="utf-8"))
        unknown[path.name] = (found["state"] - set(LedgerState)) | (found["reason"] - set(Reason))
    assert {name: values for name, values in unknown.items() if values} == {}
    assert set(_migration("0003_publish_ledger")._LEDGER_STATES) == set(LedgerState) - {LedgerState.PREVALIDATED}
    latest = _migration("0013_prevalidated_state")
    assert sorted(latest.LEDGER_STATES) == sorted(LedgerState)
    assert set(latest.WORK_STATES) == set(WORK_STATES)
    assert set(_migration("0007_rejections_every_refusal").DECIDED_BY_SYNC_REASONS) <= set(Reason)


def test_the_latest_reason_migration_holds_the_database_to_every_reason_code() -> None:
    assert set(_migration("0012_ledger_reason_codes").LEDGER_REASONS) <= set(Reason)
    assert sorted(_migration("0014_partner_refusals").LEDGER_REASONS) == sorted(Reason)


# An UPDATE of the ledger that sets a literal state, from the states its WHERE clause names.
_LEDGER_UPDATE = re.compile(r"UPDATE\s+symphonics\.interventions_ledger\b(?P<body>.*?)(?:RETURNING|$)", re.S | re.I)
_SET_STATE = re.compile(r"\bSET\b.*?(?<![\w.])state\s*=\s*'(\w+)'", re.S | re.I)


def test_every_move_a_sql_file_writes_is_a_transition() -> None:
    moves: set[tuple[str, str, str]] = set()
    for path in _sql_files():
        for update in _LEDGER_UPDATE.finditer(path.read_text(encoding="utf-8")):
            body = update["body"]
            target = _SET_STATE.search(body)
            where = body.split("WHERE", 1)[1] if "WHERE" in body else ""
            if target is None:
                continue
            for old in _literals(where)["state"]:
                moves.add((path.name, old, target[1]))
    assert ("complete_conflicts.sql", "conflict_unresolved", "published") in moves  # the scan found one
    for _file, old, new in sorted(moves):
        check_transition(LedgerState(old), LedgerState(new))  # raises for a move not in TRANSITIONS, naming it


def test_the_code_moves_rows_only_along_the_transitions() -> None:
    assert sources_of(LedgerState.SENDING) == ["failed_retryable", "ready", "sending"]
    assert sources_of(LedgerState.REJECTED_VALIDATION) == ["prevalidated", "sending"]
    with pytest.raises(ValueError, match="never moves"):
        check_transition(LedgerState.PUBLISHED, LedgerState.SENDING)
    assert all(old in LedgerState and new in LedgerState for old, new in TRANSITIONS)


def test_the_dashboard_counts_the_products_work_states() -> None:
    from include.symphonics.dashboard.queries import WORK_STATES as DASHBOARD_WORK_STATES

    assert set(DASHBOARD_WORK_STATES) == set(WORK_STATES)


def test_the_demo_oracle_imports_the_products_codes_never_the_reverse() -> None:
    import include.symphonics_demo as demo

    assert demo.Reason is Reason
    assert {str(state) for state in demo.ExpectedState} <= set(LedgerState)
    product = ROOT / "include" / "symphonics"
    imports_demo = re.compile(r"^\s*(?:from|import)\s+include\.symphonics(?:_demo|\.demo)\b", re.MULTILINE)
    modules = list(product.rglob("*.py"))
    importing_demo = [str(path.relative_to(product)) for path in modules if imports_demo.search(path.read_text())]
    assert importing_demo == []


def _reason_check(url: str) -> str | None:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = %s",
            ("interventions_ledger_reason_code_check",),
        ).fetchone()
    return None if row is None else str(row[0])


def test_0012_adds_the_reason_check_and_its_downgrade_removes_it(scratch_db: str) -> None:
    migrate.upgrade(scratch_db, "0012")
    definition = _reason_check(scratch_db)
    assert definition is not None
    assert "too_many_attempts" in definition
    migrate.downgrade(scratch_db, "0010")
    assert _reason_check(scratch_db) is None


def test_the_ledger_refuses_a_reason_code_the_product_does_not_define(sync_dsn: str) -> None:
    insert = (
        "INSERT INTO symphonics.interventions_ledger (external_id, app_intervention_id, app_status, app_updated_at, "
        "source, source_fingerprint, state, state_reason) VALUES (%s, 1, 'completed', now(), '{}', 'f', 'invalid', %s)"
    )
    with psycopg.connect(sync_dsn) as conn, pytest.raises(psycopg.errors.CheckViolation, match="reason_code"):
        conn.execute(insert, ("int_reason_unknown", "some_reason"))
    with psycopg.connect(sync_dsn) as conn:
        conn.execute(insert, ("int_reason_known", Reason.MISSING_DOCUMENT.value))
        conn.rollback()
