"""Time the personal-data retention over 1,000,000 ledger rows, and the erasure's sweep over the same table.

    python bench/privacy_retention.py [--dsn DSN] [--rows N] [--batch-size B]

Without ``--dsn`` a throw-away embedded PostgreSQL is started in a temporary folder. The ledger is generated
set-based with ``generate_series``: every row with a source record, payload and sent payload holding a customer's
name, e-mail, phone, address, PDL and photos in clear (as before minimisation), 90 % finished and 10 % still being
worked on, their last state change spread evenly over the past 360 days. Then, each timed and printed:

1. the nightly retention (90 days) in batches: rows changed, batches, seconds, rows/s, the longest batch;
2. the same pass again (nothing left to do: what every later night costs);
3. the erasure index's backfill (``python -m include.symphonics.privacy index --no-app``: the e-mails still in
   clear), with a throw-away key;
4. one erasure by e-mail (found through the index, then its rows redacted by index; the two small tables swept).
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

# Also runnable without `make bench` (which sets PYTHONPATH) from any directory.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg
from psycopg.types.json import Jsonb

from include.symphonics.core.markers import removal_marker
from include.symphonics.core.subject_keys import SubjectKeys
from include.symphonics.db import migrate
from include.symphonics.privacy.erasure import ErasureRequest, erase
from include.symphonics.privacy.fields import dotted_paths
from include.symphonics.privacy.retention import apply_retention
from include.symphonics.privacy.sqlfiles import query
from include.symphonics.privacy.subject_index import index_ledger

NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)

GENERATE = """
INSERT INTO symphonics.interventions_ledger (
    external_id, app_intervention_id, app_status, app_updated_at, source, source_fingerprint, payload,
    sent_payload, sent_documents, state, state_reason, symphonics_id, published_at, state_changed_at
)
SELECT 'int_' || lpad(g::text, 8, '0'), g, 'completed', r.changed_at, r.record, md5(g::text), r.record,
       CASE WHEN s.state = 'published' THEN r.record END,
       CASE WHEN s.state = 'published' THEN r.record -> 'documents' ELSE '[]'::jsonb END,
       s.state, CASE WHEN s.state NOT IN ('published', 'ready') THEN 'missing_document' END,
       CASE WHEN s.state = 'published' THEN 'sym_' || lpad(g::text, 8, '0') END,
       CASE WHEN s.state = 'published' THEN r.changed_at END,
       r.changed_at
  FROM generate_series(1, %(n)s) AS g
 CROSS JOIN LATERAL (SELECT CASE WHEN g %% 10 = 0 THEN 'ready' WHEN g %% 10 = 1 THEN 'invalid'
                                 ELSE 'published' END AS state) AS s
 CROSS JOIN LATERAL (SELECT %(now)s::timestamptz - (g %% 360) * interval '1 day' - interval '1 hour' AS changed_at,
    jsonb_build_object(
        'external_id', 'int_' || lpad(g::text, 8, '0'), 'status', 'completed',
        'completion_date', '2026-03-02T10:00:00Z',
        'customer', jsonb_build_object('first_name', 'Prénom' || g, 'last_name', 'Nom' || g,
                                       'email', 'client' || g || '@exemple.fr',
                                       'phone', '+336' || lpad(g::text, 8, '0')),
        'installation', jsonb_build_object('address', g || ' rue des Lilas', 'postal_code', '69003', 'city', 'Lyon',
                                           'pdl', lpad(g::text, 14, '0')),
        'installer', jsonb_build_object('name', 'Paul Roux', 'company_id', 'cmp_00000001', 'id', 'usr_1'),
        'services', jsonb_build_array(jsonb_build_object('code', 'BAR-TH-171', 'name', 'PAC air/eau',
                                                         'quantity', 1)),
        'equipment', jsonb_build_array(jsonb_build_object('name', 'PAC', 'model', 'X1', 'quantity', 1)),
        'documents', jsonb_build_array(
            jsonb_build_object('type', 'invoice', 'name', 'Facture - Prénom' || g || ' Nom' || g,
                               'url', 'https://docs.example/int_' || g || '/invoice.pdf'),
            jsonb_build_object('type', 'contract', 'name', 'Contrat', 'url',
                               'https://docs.example/int_' || g || '/contract.pdf')),
        'photos', jsonb_build_array(
            jsonb_build_object('type', 'before', 'url', 'https://photos.example/' || g || '/b.jpg',
                               'coordinates', jsonb_build_object('latitude', 45.75, 'longitude', 4.85),
                               'timestamp', '2026-03-02T09:00:00Z'))
    ) AS record) AS r
"""


def run(dsn: str, rows: int, batch_size: int) -> None:
    """Generate the ledger in ``dsn`` (migrated to head), then time the passes and print the figures."""
    migrate.upgrade(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE symphonics.interventions_ledger, symphonics.privacy_erasures, symphonics.subject_keys")
        started = time.perf_counter()
        conn.execute(GENERATE, {"n": rows, "now": NOW})  # type: ignore[arg-type]
        conn.execute("VACUUM ANALYZE symphonics.interventions_ledger")
        due_row = conn.execute(
            "SELECT count(*) FROM symphonics.interventions_ledger WHERE state <> 'ready' AND state_changed_at < %s",
            (NOW - timedelta(days=90),),
        ).fetchone()
        due = int(due_row[0]) if due_row else 0
        size_row = conn.execute("SELECT pg_size_pretty(pg_total_relation_size('symphonics.interventions_ledger'))")
        size = size_row.fetchone()
        print(
            f"generated {rows:,} ledger rows ({size[0] if size else '?'}) in {time.perf_counter() - started:.1f} s;"
            f" {due:,} finished more than 90 days ago"
        )

    # One batch timed alone, for the longest lock a batch holds.
    params = {
        "before": NOW - timedelta(days=90),
        "batch_size": batch_size,
        "paths": dotted_paths(),
        "marker": Jsonb(removal_marker("retention")),
    }
    with psycopg.connect(dsn) as conn:
        started = time.perf_counter()
        with conn.transaction():
            first = conn.execute(query("retention_batch"), params).rowcount
        one_batch = time.perf_counter() - started
    started = time.perf_counter()
    counts = apply_retention(dsn, retention=timedelta(days=90), batch_size=batch_size, now=NOW)
    seconds = time.perf_counter() - started + one_batch
    total = counts.ledger_rows + first
    print(
        f"retention 90 days, batches of {batch_size:,}: {total:,} rows in {counts.batches + 1:,} batches, "
        f"{seconds:.1f} s ({total / seconds:,.0f} rows/s; one batch {one_batch:.2f} s)"
    )
    assert total == due, (total, due)

    started = time.perf_counter()
    again = apply_retention(dsn, retention=timedelta(days=90), batch_size=batch_size, now=NOW)
    print(f"retention again (nothing due): {again.ledger_rows} rows in {time.perf_counter() - started:.2f} s")

    keys = SubjectKeys.parse(secrets.token_hex(32))  # throw-away: the index dies with the bench
    started = time.perf_counter()
    indexed = index_ledger(dsn, None, keys, batch_size=batch_size)
    print(f"erasure index backfill (e-mails in clear): {indexed:,} rows in {time.perf_counter() - started:.1f} s")

    # A person whose rows are recent (still holding their data): found through the index, then redacted.
    started = time.perf_counter()
    result = erase(ErasureRequest(email="client1@exemple.fr", requested_by="bench"), dsn, None, keys)
    print(
        f"erasure by e-mail over {rows:,} ledger rows: {result.interventions} intervention(s), "
        f"{time.perf_counter() - started:.1f} s"
    )


def main() -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dsn", help="an existing sync database (its ledger is emptied)")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU, load {os.getloadavg()[0]:.1f}")
    if args.dsn:
        run(args.dsn, args.rows, args.batch_size)
        return 0
    from include.symphonics_devstack.localpg import start_embedded, stop_embedded

    with tempfile.TemporaryDirectory(prefix="privacy-bench-") as tmp:
        server = start_embedded(Path(tmp))
        try:
            server.ensure_databases(["sync_bench"])
            run(server.url("sync_bench"), args.rows, args.batch_size)
        finally:
            stop_embedded(Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
