"""The claim queries scoped to a run's external ids: the plans they get and what a claim costs, scoped or not.

    python bench/claim_scope.py [--dsn DSN] [--rows N] [--backlog B] [--rounds R]

Without ``--dsn`` a throw-away embedded PostgreSQL is started in a temporary folder. A ledger of N rows is made,
of which B are still to work on (a third each waiting for the local rules, for the partner, and ready), then
ANALYZEd. For each claim query of ``include/symphonics/sql/publish`` the script prints the indexes its plan uses,
unscoped (``external_ids`` NULL: every row) and scoped (3 ids), as a custom plan and as a generic one (what a
prepared statement gets after five runs), and the median time of one claim of a batch (run and rolled back).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Also runnable without `make bench` (which sets PYTHONPATH) from any directory.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg

from include.symphonics.db import migrate
from include.symphonics.publish.publisher import CLAIM_LOCK_CLASS
from include.symphonics.publish.sqlfiles import text_of

CLAIMS = ("claim_for_prevalidation", "claim_for_partner_validation", "claim_for_publish", "ready_for_dry_run")
SEED = """
INSERT INTO symphonics.interventions_ledger (external_id, app_intervention_id, app_status, app_updated_at, source,
                                             source_fingerprint, state, symphonics_id, prevalidated_at, payload)
SELECT 'int_' || lpad(g::text, 8, '0'), g, 'completed', now(), '{}'::jsonb, md5(g::text),
       CASE WHEN g > %(done)s THEN (ARRAY['pending', 'pending', 'ready'])[1 + g %% 3] ELSE 'published' END,
       CASE WHEN g > %(done)s THEN NULL ELSE 'sym_' || g END,
       CASE WHEN g > %(done)s AND g %% 3 = 1 THEN now() END,
       '{}'::jsonb
  FROM generate_series(1, %(rows)s) AS g
"""


def parameters(scope: list[str] | None) -> dict[str, Any]:
    """Every parameter any claim query reads."""
    return {
        "after_id": 0,
        "batch_size": 100,
        "external_ids": scope,
        "claim_key": 1,
        "lock_class": CLAIM_LOCK_CLASS,
    }


def _walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _walk(child)


def indexes_of(plan: list[dict[str, Any]]) -> list[str]:
    """The ledger's scans of a JSON plan: each index it reads, and ``Seq Scan`` for a sequential one."""
    found = []
    for node in _walk(plan[0]["Plan"]):
        if "Index Name" in node:
            found.append(node["Index Name"])
        elif node["Node Type"] == "Seq Scan" and node.get("Relation Name") == "interventions_ledger":
            found.append("Seq Scan")
    return found


def generic_sql(text: str) -> tuple[str, list[str]]:
    """The query with ``$n`` placeholders (for ``EXPLAIN (GENERIC_PLAN)``) and the names in their order."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    return re.sub(r"%\((\w+)\)s", number, text.replace("%%", "%")), names


def explain(conn: psycopg.Connection, name: str, scope: list[str] | None) -> tuple[list[str], list[str]]:
    """The indexes of the custom plan (values bound) and of the generic plan (values unknown) of a claim."""
    text = text_of(name)
    custom = conn.execute(f"EXPLAIN (FORMAT JSON) {text}", parameters(scope)).fetchone()  # type: ignore[call-overload]
    generic_text, _ = generic_sql(text)
    generic = conn.execute(f"EXPLAIN (GENERIC_PLAN, FORMAT JSON) {generic_text}").fetchone()  # type: ignore[call-overload]
    assert custom is not None
    assert generic is not None
    as_json = [value if isinstance(value, list) else json.loads(value) for value in (custom[0], generic[0])]
    return indexes_of(as_json[0]), indexes_of(as_json[1])


def time_claim(conn: psycopg.Connection, name: str, scope: list[str] | None, rounds: int) -> float:
    """Median seconds of one claim (rolled back, so every round claims the same rows)."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        with conn.cursor() as cur:
            cur.execute(text_of(name), parameters(scope))  # type: ignore[call-overload]
            cur.fetchall()
        times.append(time.perf_counter() - started)
        conn.rollback()
    return statistics.median(times)


def run(dsn: str, rows: int, backlog: int, rounds: int) -> None:
    """Seed the ledger, then print each claim's plans and times."""
    migrate.upgrade(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE symphonics.interventions_ledger, symphonics.ledger_history")
        conn.execute(SEED, {"rows": rows, "done": rows - backlog})
        conn.execute("ANALYZE symphonics.interventions_ledger")
    done = rows - backlog
    scope = [f"int_{done + offset:08d}" for offset in (1, 2, 3)]
    print(f"ledger: {rows:,} rows, {backlog:,} still to work on; scoped runs name 3 of them")
    with psycopg.connect(dsn) as conn:
        for name in CLAIMS:
            for label, ids in (("unscoped", None), ("scoped", scope)):
                custom, generic = explain(conn, name, ids)
                conn.rollback()
                seconds = time_claim(conn, name, ids, rounds)
                print(
                    f"{name:30} {label:8}  custom plan: {', '.join(custom):55}  generic plan: {', '.join(generic):55}"
                    f"  claim: {seconds * 1000:7.2f} ms"
                )
        conn.rollback()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE symphonics.interventions_ledger, symphonics.ledger_history")


def main() -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dsn", help="an existing sync database (its ledger and history are emptied)")
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--backlog", type=int, default=3_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    if args.dsn:
        run(args.dsn, args.rows, args.backlog, args.rounds)
        return 0
    from include.symphonics.localpg import start_embedded, stop_embedded

    with tempfile.TemporaryDirectory(prefix="claim-scope-bench-") as tmp:
        server = start_embedded(Path(tmp))
        try:
            server.ensure_databases(["sync_bench"])
            run(server.url("sync_bench"), args.rows, args.backlog, args.rounds)
        finally:
            stop_embedded(Path(tmp))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
