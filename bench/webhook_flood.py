"""The stand-alone webhook receiver under a flood of bad requests on loopback, with valid events mixed in.

    python bench/webhook_flood.py [--dsn DSN] [--bad 20000] [--valid 200] [--threads 8]

Without ``--dsn`` a throw-away embedded PostgreSQL is started in a temporary folder and migrated to head. The
receiver runs as ``python -m include.symphonics.webhooks`` on a free loopback port with its default settings;
``--threads`` keep-alive sessions send the bad requests (unsigned, forged, malformed, oversized, wrong content
type, in turn) with the valid, signed events spread among them. Prints the valid events' acceptance and
p50/p95 latency, the bad requests absorbed per second, the answers' status codes, the rows the flood added to
the ``sync`` database (counted after the receiver stopped and wrote its last counts) and the receiver's resident
memory. Fails when a valid event is not stored exactly once or when any answer is a 5xx.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import requests

# Also runnable without `make bench` (which sets PYTHONPATH) from any directory.
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.webhook_throughput import database, free_port  # noqa: E402

BENCH_SECRET = "bench-webhook-flood-secret"  # noqa: S105 - a throw-away value for a throw-away receiver
TABLES = ("webhook_events", "webhook_refusals", "webhook_rejections", "status_poll_queue")


@contextlib.contextmanager
def receiver(dsn: str, log_lines: list[int]) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The stand-alone receiver as a subprocess on loopback; yields its URL and process once ``/health`` answers.
    Stopped with SIGTERM, so it writes its last refusal counts. ``log_lines[0]`` counts the lines it logged."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SYMPHONICS_WEBHOOK_SECRET": BENCH_SECRET, "SYMPHONICS_SYNC_DSN": dsn}
    process = subprocess.Popen(
        [sys.executable, "-m", "include.symphonics.webhooks", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
    )

    def count_log_lines() -> None:
        assert process.stderr is not None
        for _line in process.stderr:
            log_lines[0] += 1

    reader = threading.Thread(target=count_log_lines, daemon=True)
    reader.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        with requests.Session() as session:
            session.trust_env = False
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"the receiver exited with {process.returncode}")
                with contextlib.suppress(requests.RequestException):
                    if session.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError("the receiver did not answer within 30 s")
                time.sleep(0.05)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        reader.join(timeout=5)


def memory_kib(pid: int) -> tuple[int, int]:
    """Resident memory of a process now and at its peak (KiB), from ``/proc``."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        name, _, value = line.partition(":")
        fields[name] = value.split()[0] if value.split() else "0"
    return int(fields.get("VmRSS", 0)), int(fields.get("VmHWM", 0))


def sign(body: bytes, secret: str = BENCH_SECRET) -> str:
    """The partner's signature."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def event(run: str, number: int) -> bytes:
    """A distinct status update, stamped now."""
    payload = {
        "event": "intervention.status_update",
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": {
            "intervention_id": f"sym_{run}_{number:07d}",
            "external_id": f"int_{number:08d}",
            "previous_status": "processing",
            "new_status": "approved",
        },
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def bad_request(run: str, number: int) -> tuple[bytes, dict[str, str]]:
    """One bad request of five kinds in turn."""
    body = event(f"bad{run}", number)
    kind = number % 5
    if kind == 0:
        return body, {"Content-Type": "application/json"}
    if kind == 1:
        return body, {"Content-Type": "application/json", "X-Symphonics-Signature": sign(body, "forged")}
    if kind == 2:
        return b"{not json at all", {"Content-Type": "application/json", "X-Symphonics-Signature": "0" * 64}
    if kind == 3:
        return b"x" * 70_000, {"Content-Type": "application/json", "X-Symphonics-Signature": sign(b"x")}
    return body, {"Content-Type": "text/plain", "X-Symphonics-Signature": sign(body)}


def table_rows(dsn: str) -> dict[str, int]:
    """Rows in each of the receiver's tables."""
    with psycopg.connect(dsn) as conn:
        counts = {}
        for table in TABLES:
            row = conn.execute(f"SELECT count(*) FROM symphonics.{table}").fetchone()  # noqa: S608 - fixed names
            counts[table] = int(row[0]) if row else 0
        return counts


def main() -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dsn", help="a sync database to use (default: a throw-away embedded PostgreSQL)")
    parser.add_argument("--bad", type=int, default=20_000, help="bad requests to send (at most 200,000)")
    parser.add_argument("--valid", type=int, default=200, help="valid events mixed in (at most 10,000)")
    parser.add_argument("--threads", type=int, default=8, help="client threads (at most 32)")
    args = parser.parse_args()
    bad, valid, threads = min(args.bad, 200_000), min(args.valid, 10_000), max(1, min(args.threads, 32))
    run = uuid.uuid4().hex[:8]
    valid_every = max(1, bad // max(valid, 1))
    plan: list[tuple[bool, bytes, dict[str, str]]] = []
    valid_planned = 0
    for number in range(bad):
        plan.append((False, *bad_request(run, number)))
        if number % valid_every == valid_every // 2 and valid_planned < valid:
            body = event(run, valid_planned)
            plan.append((True, body, {"Content-Type": "application/json", "X-Symphonics-Signature": sign(body)}))
            valid_planned += 1
    shares = [plan[index::threads] for index in range(threads)]
    lock = threading.Lock()
    codes: Counter[tuple[bool, int]] = Counter()
    valid_latencies: list[float] = []

    def send(url: str, share: list[tuple[bool, bytes, dict[str, str]]]) -> None:
        with requests.Session() as session:
            session.trust_env = False
            for is_valid, body, headers in share:
                started = time.perf_counter()
                response = session.post(url, data=body, headers=headers, timeout=30)
                elapsed = time.perf_counter() - started
                stored = is_valid and response.status_code == 200 and response.json()["status"] == "stored"
                with lock:
                    codes[(is_valid, response.status_code if not is_valid or stored else -response.status_code)] += 1
                    if is_valid:
                        valid_latencies.append(elapsed)

    with database(args.dsn) as dsn:
        before = table_rows(dsn)
        log_lines = [0]
        with receiver(dsn, log_lines) as (url, process):
            rss_start, _ = memory_kib(process.pid)
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=threads) as pool:
                list(pool.map(lambda share: send(url, share), shares))
            elapsed = time.perf_counter() - started
            rss_end, rss_peak = memory_kib(process.pid)
        after = table_rows(dsn)
        with psycopg.connect(dsn) as conn:
            row = conn.execute(
                "SELECT count(*), count(DISTINCT intervention_id) FROM symphonics.webhook_events"
                " WHERE starts_with(intervention_id, %s)",
                [f"sym_{run}_"],
            ).fetchone()
            counted = conn.execute("SELECT coalesce(sum(requests), 0) FROM symphonics.webhook_refusals").fetchone()
    stored_rows, stored_distinct = (int(row[0]), int(row[1])) if row else (0, 0)
    accepted = codes[(True, 200)]
    server_errors = sum(count for (_, code), count in codes.items() if abs(code) >= 500)
    quantiles = statistics.quantiles(valid_latencies, n=100) if len(valid_latencies) > 1 else [0.0] * 99
    added = {table: after[table] - before[table] for table in TABLES}
    print(f"bad requests sent       {bad:>10,}  ({threads} threads)")
    print(f"valid events sent       {valid_planned:>10,}")
    print(f"valid accepted, stored  {accepted:>10,}  ({accepted / max(valid_planned, 1):.1%}; rows {stored_rows:,})")
    print(f"valid latency p50       {quantiles[49] * 1000:>10.1f} ms")
    print(f"valid latency p95       {quantiles[94] * 1000:>10.1f} ms")
    print(f"time                    {elapsed:>10.2f} s")
    print(f"bad requests/s absorbed {bad / elapsed:>10,.0f}")
    for (is_valid, code), count in sorted(codes.items()):
        if not is_valid:
            print(f"  bad answered {code}       {count:>10,}")
    print(f"refusals counted        {int(counted[0]) if counted else 0:>10,}")
    print(f"rows added              {sum(added.values()):>10,}  " + ", ".join(f"{t} {n:,}" for t, n in added.items()))
    print(f"receiver log lines      {log_lines[0]:>10,}")
    print(f"receiver RSS start      {rss_start / 1024:>10.1f} MiB")
    print(f"receiver RSS end        {rss_end / 1024:>10.1f} MiB  (peak {rss_peak / 1024:.1f} MiB)")
    if accepted != valid_planned or stored_rows != valid_planned or stored_distinct != valid_planned:
        print(f"error: {accepted} of {valid_planned} valid events accepted, {stored_rows} rows stored", file=sys.stderr)
        return 1
    if server_errors:
        print(f"error: {server_errors} answers were 5xx", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
