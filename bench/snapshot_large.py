"""Time the reconciliation snapshot of 1,000,000 interventions (goal: under 60 s), and record the figure.

    python bench/snapshot_large.py [--dsn DSN] [--interventions N] [--no-record]

Without ``--dsn`` a throw-away embedded PostgreSQL is started in a temporary folder. The ledger, its status
history (ledger states, partner statuses, document verifications) and the app-state copy are generated set-based
with ``generate_series``; then ``build_snapshot`` (ledger history step + the one ``INSERT … SELECT``) is timed.
The figure is printed and appended to ``docs/PERFORMANCE.md`` under "Reconciliation snapshot".
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

# Also runnable without `make bench` (which sets PYTHONPATH) from any directory.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg

from include.symphonics.db import migrate
from include.symphonics.reconcile.snapshot import build_snapshot

DOCS = Path(__file__).resolve().parents[1] / "docs" / "PERFORMANCE.md"
HEADING = "## Reconciliation snapshot"

# The data set: 8 % invalid, 2 % rejected by validation, 1 % dead letter, the rest published; of the published,
# 80 % approved, 10 % rejected (half of them on a document), 10 % still processing. Set-based, in the database.
GENERATE = """
INSERT INTO symphonics.interventions_ledger (
    external_id, app_intervention_id, app_status, app_updated_at, source, source_fingerprint, state, state_reason,
    symphonics_id, published_at, state_changed_at
)
SELECT 'int_' || lpad(g::text, 8, '0'), g, 'completed', t.base + interval '1 hour', '{}'::jsonb, md5(g::text),
       s.state, CASE s.state WHEN 'invalid' THEN 'missing_document' WHEN 'rejected_validation' THEN 'pdl_invalid'
                        WHEN 'dead_letter' THEN 'too_many_attempts' END,
       CASE WHEN s.state = 'published' THEN 'sym_' || lpad(g::text, 8, '0') END,
       CASE WHEN s.state = 'published' THEN t.base + interval '2 hours' END,
       t.base + interval '2 hours'
  FROM generate_series(1, %(n)s) AS g
 CROSS JOIN LATERAL (SELECT timestamptz '2025-01-01' + (g %% 500) * interval '1 day' AS base) AS t
 CROSS JOIN LATERAL (SELECT CASE WHEN g %% 100 < 8 THEN 'invalid' WHEN g %% 100 < 10 THEN 'rejected_validation'
                                 WHEN g %% 100 = 10 THEN 'dead_letter' ELSE 'published' END AS state) AS s;

INSERT INTO symphonics.status_history (external_id, symphonics_id, from_status, to_status, source, notes, occurred_at)
SELECT external_id, symphonics_id, NULL, state, 'publish', state_reason, state_changed_at
  FROM symphonics.interventions_ledger;
INSERT INTO symphonics.intervention_sync_state (external_id, symphonics_id, ledger_state, ledger_state_at)
SELECT external_id, symphonics_id, state, state_changed_at FROM symphonics.interventions_ledger;

INSERT INTO symphonics.status_history (external_id, symphonics_id, from_status, to_status, source, notes, occurred_at)
SELECT external_id, symphonics_id, 'created', 'processing', 'webhook', NULL, published_at + interval '1 hour'
  FROM symphonics.interventions_ledger WHERE state = 'published';
INSERT INTO symphonics.status_history (external_id, symphonics_id, from_status, to_status, source, notes, occurred_at)
SELECT external_id, symphonics_id, 'processing',
       CASE WHEN app_intervention_id %% 10 = 0 THEN 'rejected' ELSE 'approved' END,
       CASE WHEN app_intervention_id %% 3 = 0 THEN 'poll' ELSE 'webhook' END,
       CASE WHEN app_intervention_id %% 10 = 0 THEN 'Dossier rejeté : Attestation sur l''honneur manquante' END,
       published_at + interval '3 days'
  FROM symphonics.interventions_ledger WHERE state = 'published' AND app_intervention_id %% 10 <> 9;
INSERT INTO symphonics.status_history (
    external_id, symphonics_id, event_kind, document_type, to_status, source, notes, occurred_at
)
SELECT external_id, symphonics_id, 'document', 'attestation_honneur',
       CASE WHEN app_intervention_id %% 20 = 0 THEN 'rejected' ELSE 'verified' END, 'webhook', NULL,
       published_at + interval '3 days'
  FROM symphonics.interventions_ledger WHERE state = 'published' AND app_intervention_id %% 10 <> 9;

INSERT INTO symphonics.app_interventions_copy (
    external_id, app_updated_at, app_intervention_id, status, completed_at, postal_code, city, installer_id,
    installer_masked, company_id, customer_email_masked, customer_phone_masked
)
SELECT external_id, app_updated_at, app_intervention_id, 'completed', app_updated_at - interval '30 minutes',
       '75015', 'Paris', app_intervention_id %% 7700, 'j***@example.fr', app_intervention_id %% 1250,
       't***@orange.fr', '******78'
  FROM symphonics.interventions_ledger;
"""


def _record(figure: str) -> None:
    text = DOCS.read_text(encoding="utf-8") if DOCS.exists() else "# Performance\n"
    if HEADING not in text:
        text = text.rstrip("\n") + (
            f"\n\n{HEADING}\n\nGoal (issue 6): the snapshot of 1,000,000 interventions in one set-based pass, "
            "under **60 s**. Reproduce: `python bench/snapshot_large.py` (throw-away embedded PostgreSQL) or "
            '`--dsn "$DSN"`.\n\n| measured at | interventions | history rows | snapshot rows | build | machine |\n'
            "|---|---:|---:|---:|---:|---|\n"
        )
    DOCS.write_text(text.rstrip("\n") + "\n" + figure + "\n", encoding="utf-8")


def run(dsn: str, interventions: int) -> tuple[int, int, float]:
    """Generate the data set in ``dsn`` (migrated to head), then time one build. Returns history rows,
    snapshot rows and the build's seconds."""
    migrate.upgrade(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE symphonics.interventions_ledger, symphonics.status_history, symphonics.intervention_sync_state,"
            " symphonics.app_interventions_copy, analytics.snapshot_changes, analytics.snapshot_builds"
        )
        started = time.perf_counter()
        for statement in GENERATE.split(";\n"):
            if statement.strip():
                conn.execute(statement, {"n": interventions})  # type: ignore[arg-type]
        conn.execute("VACUUM ANALYZE")
        history_row = conn.execute("SELECT count(*) FROM symphonics.status_history").fetchone()
        history = int(history_row[0]) if history_row else 0
        generated_in = time.perf_counter() - started
        print(f"generated {interventions:,} interventions, {history:,} history rows in {generated_in:.1f} s")
    as_of = datetime(2026, 6, 1, tzinfo=UTC)
    started = time.perf_counter()
    result = build_snapshot(dsn, as_of.date(), as_of, stale_days=30, run_id="bench")
    seconds = time.perf_counter() - started
    return history, result.rows, seconds


def main() -> int:
    """Run the benchmark and print (and record) the figure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dsn", help="an existing sync database (the bench tables are emptied)")
    parser.add_argument("--interventions", type=int, default=1_000_000)
    parser.add_argument("--no-record", action="store_true", help="do not append the figure to docs/PERFORMANCE.md")
    args = parser.parse_args()
    if args.dsn:
        history, rows, seconds = run(args.dsn, args.interventions)
    else:
        from include.symphonics_devstack.localpg import start_embedded, stop_embedded

        with tempfile.TemporaryDirectory(prefix="snapshot-bench-") as tmp:
            server = start_embedded(Path(tmp))
            try:
                server.ensure_databases(["sync_bench"])
                history, rows, seconds = run(server.url("sync_bench"), args.interventions)
            finally:
                stop_embedded(Path(tmp))
    print(
        f"snapshot of {rows:,} rows ({args.interventions:,} interventions, {history:,} history rows): {seconds:.1f} s"
    )
    print("goal < 60 s:", "met" if seconds < 60 else "NOT met")
    if not args.no_record:
        machine = f"{platform.machine()}, {__import__('os').cpu_count()} CPU"
        _record(
            f"| {datetime.now(UTC):%Y-%m-%d} | {args.interventions:,} | {history:,} | {rows:,} | {seconds:.1f} s | "
            f"{machine} |"
        )
    return 0 if seconds < 60 else 1


if __name__ == "__main__":
    sys.exit(main())
