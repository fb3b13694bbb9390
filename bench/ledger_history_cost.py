"""What the ledger's history (migration 0011) costs a publish run: rows written and time added per 1,000 rows.

    python bench/ledger_history_cost.py [--dsn DSN] [--interventions N] [--rounds R]

Without ``--dsn`` a throw-away embedded PostgreSQL is started in a temporary folder. Each round plays a publish
run's ledger statements on N new interventions with the pipeline's own SQL files, one row and one transaction at
a time as the steps do (insert, local rules, partner validation, ``sending`` committed before the request, the
answer): once with the history triggers on, once with them off. Printed: history rows written per 1,000
interventions, and the median time added per 1,000 (absolute and relative to the same statements without it).
No partner call is made: the figure is the database's share only (a real run's HTTP time comes on top, so the
relative cost of a real run is lower still).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

# Also runnable without `make bench` (which sets PYTHONPATH) from any directory.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg
from psycopg.types.json import Jsonb

from include.symphonics.core.states import LedgerState, sources_of
from include.symphonics.db import migrate
from include.symphonics.publish.sqlfiles import query

TRIGGERS = ("interventions_ledger_history_insert", "interventions_ledger_history_update")
INSERT = """
INSERT INTO symphonics.interventions_ledger (external_id, app_intervention_id, app_status, app_updated_at, source,
                                             source_fingerprint, state, last_run_id)
SELECT 'int_' || %(prefix)s || lpad(g::text, 7, '0'), g, 'completed', now(), '{}'::jsonb, md5(g::text), 'pending',
       %(run_id)s
  FROM generate_series(1, %(n)s) AS g
RETURNING id
"""


def play_run(conn: psycopg.Connection, n: int, prefix: str) -> float:
    """One publish run's ledger statements on ``n`` new rows; returns the seconds they took."""
    run_id = f"bench__{prefix}"
    payload = Jsonb({"customer": {"email": "x***@example.fr"}, "documents": []})
    started = time.perf_counter()
    with conn.transaction():
        ids = [row[0] for row in conn.execute(INSERT, {"prefix": prefix, "run_id": run_id, "n": n}).fetchall()]
    for row_id in ids:
        with conn.transaction():
            conn.execute(
                query("prevalidation_update"),
                {
                    "state": "prevalidated",
                    "reason": None,
                    "detail": None,
                    "payload": payload,
                    "payload_fingerprint": "p",
                    "changed_fields": None,
                    "run_id": run_id,
                    "id": row_id,
                },
            )
    for row_id in ids:
        with conn.transaction():
            conn.execute(
                query("validation_update"),
                {
                    "state": "ready",
                    "reason": None,
                    "detail": None,
                    "payload": None,
                    "payload_fingerprint": None,
                    "error_code": None,
                    "error_message": None,
                    "request_id": None,
                    "run_id": run_id,
                    "id": row_id,
                },
            )
    with conn.transaction():
        conn.execute("UPDATE symphonics.interventions_ledger SET claim_key = 1 WHERE id = ANY(%s)", (ids,))
    for row_id in ids:
        with conn.transaction():
            conn.execute(
                query("mark_sending"),
                {"run_id": run_id, "id": row_id, "claim_key": 1, "from_states": sources_of(LedgerState.SENDING)},
            )
        with conn.transaction():
            conn.execute(
                query("publish_outcome"),
                {
                    "state": "published",
                    "reason": None,
                    "detail": None,
                    "symphonics_id": f"sym_{prefix}_{row_id}",
                    "sent_payload": payload,
                    "sent_fingerprint": "p",
                    "sent_documents": Jsonb([]),
                    "undo_attempt": False,
                    "error_code": None,
                    "error_message": None,
                    "request_id": f"req_{prefix}_{row_id}",
                    "http_status": None,
                    "id": row_id,
                },
            )
    return time.perf_counter() - started


def _set_triggers(conn: psycopg.Connection, enabled: bool) -> None:
    verb = "ENABLE" if enabled else "DISABLE"
    with conn.transaction():
        for trigger in TRIGGERS:
            conn.execute(f"ALTER TABLE symphonics.interventions_ledger {verb} TRIGGER {trigger}")  # constants


def run(dsn: str, n: int, rounds: int) -> tuple[float, list[float], list[float]]:
    """Rounds with and without the history; returns history rows per row and the seconds of each round."""
    migrate.upgrade(dsn, "head")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE symphonics.interventions_ledger, symphonics.ledger_history")
        play_run(conn, min(n, 200), "warm")  # caches and plans warm before the first timed round
        with_history: list[float] = []
        without: list[float] = []
        before = conn.execute("SELECT count(*) FROM symphonics.ledger_history").fetchone()[0]  # type: ignore[index]
        written = 0
        for r in range(rounds):
            # Alternated, each on an empty ledger, so neither side always runs second or on a bigger table.
            for enabled in (True, False) if r % 2 == 0 else (False, True):
                conn.execute("TRUNCATE symphonics.interventions_ledger")
                _set_triggers(conn, enabled)
                seconds = play_run(conn, n, f"{'on' if enabled else 'off'}{r}")
                (with_history if enabled else without).append(seconds)
        _set_triggers(conn, True)
        after = conn.execute("SELECT count(*) FROM symphonics.ledger_history").fetchone()[0]  # type: ignore[index]
        written = after - before
    per_row = written / (n * rounds)
    return per_row, with_history, without


def main() -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dsn", help="an existing sync database (its ledger and history are emptied)")
    parser.add_argument("--interventions", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    if args.dsn:
        per_row, on, off = run(args.dsn, args.interventions, args.rounds)
    else:
        from include.symphonics_devstack.localpg import start_embedded, stop_embedded

        with tempfile.TemporaryDirectory(prefix="history-bench-") as tmp:
            server = start_embedded(Path(tmp))
            try:
                server.ensure_databases(["sync_bench"])
                per_row, on, off = run(server.url("sync_bench"), args.interventions, args.rounds)
            finally:
                stop_embedded(Path(tmp))
    scale = 1000 / args.interventions
    on_ms, off_ms = statistics.median(on) * 1000 * scale, statistics.median(off) * 1000 * scale
    print(f"history rows written: {per_row * 1000:,.0f} per 1,000 interventions ({per_row:.1f} per intervention)")
    print(
        f"ledger statements of a publish run per 1,000 interventions: {off_ms:,.0f} ms without the history, "
        f"{on_ms:,.0f} ms with it (median of {args.rounds} rounds)"
    )
    print(f"time added by the history: {on_ms - off_ms:,.0f} ms per 1,000 interventions ({(on_ms / off_ms - 1):+.1%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
