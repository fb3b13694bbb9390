"""Throughput of the stand-alone webhook receiver on loopback: validly signed, distinct events, verified and stored.

    python bench/webhook_throughput.py [--dsn DSN] [--events 5000] [--threads 4]

Without ``--dsn`` a throw-away embedded PostgreSQL is started in a temporary folder and migrated to head. The
receiver runs as ``python -m include.symphonics.webhooks`` on a free loopback port; a few client threads with
keep-alive sessions send the events. Every answer must be 200 and every event must be stored once, else the run
fails. Prints events/s and p50/p95/p99 latency. Goal: at least 300 events/s.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import requests

# Also runnable without `make bench` (which sets PYTHONPATH) from any directory.
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from include.symphonics.db import migrate  # noqa: E402
from include.symphonics_devstack import localpg  # noqa: E402

BENCH_SECRET = "bench-webhook-secret"  # noqa: S105 - a throw-away value for a throw-away receiver
BENCH_DATABASE = "symphonics_webhook_bench"


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def database(dsn: str | None) -> Iterator[str]:
    """The given database, or a new embedded server's, migrated to head."""
    if dsn:
        migrate.upgrade(dsn)
        yield dsn
        return
    with tempfile.TemporaryDirectory(prefix="webhook-bench-") as tmp:
        data_dir = Path(tmp) / "pg"
        server = localpg.start_embedded(data_dir)
        try:
            server.ensure_databases([BENCH_DATABASE], recreate=True)
            url = server.url(BENCH_DATABASE)
            migrate.upgrade(url)
            yield url
        finally:
            localpg.stop_embedded(data_dir)


@contextlib.contextmanager
def receiver(dsn: str) -> Iterator[str]:
    """The stand-alone receiver as a subprocess; yields its URL once ``/health`` answers."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SYMPHONICS_WEBHOOK_SECRET": BENCH_SECRET, "SYMPHONICS_SYNC_DSN": dsn}
    process = subprocess.Popen(
        [sys.executable, "-m", "include.symphonics.webhooks", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT,
        env=env,
    )
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
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def signed_events(count: int, run: str) -> list[tuple[bytes, dict[str, str]]]:
    """``count`` distinct status updates, stamped now, with their headers."""
    timestamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    events = []
    for number in range(count):
        payload = {
            "event": "intervention.status_update",
            "timestamp": timestamp,
            "data": {
                "intervention_id": f"sym_{run}_{number:07d}",
                "external_id": f"int_{number:08d}",
                "previous_status": "processing",
                "new_status": "approved",
                "notes": "All documents verified successfully",
            },
        }
        body = json.dumps(payload, separators=(",", ":")).encode()
        signature = hmac.new(BENCH_SECRET.encode(), body, hashlib.sha256).hexdigest()
        events.append((body, {"Content-Type": "application/json", "X-Symphonics-Signature": signature}))
    return events


def send_all(url: str, events: list[tuple[bytes, dict[str, str]]], threads: int) -> tuple[float, list[float]]:
    """Send every event from ``threads`` keep-alive sessions; return the wall time and each latency (s)."""
    shares = [events[index::threads] for index in range(threads)]

    def send_share(share: list[tuple[bytes, dict[str, str]]]) -> list[float]:
        latencies = []
        with requests.Session() as session:
            session.trust_env = False
            for body, headers in share:
                started = time.perf_counter()
                response = session.post(url, data=body, headers=headers, timeout=30)
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200 or response.json()["status"] != "stored":
                    raise RuntimeError(f"unexpected answer {response.status_code}: {response.text}")
        return latencies

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = list(pool.map(send_share, shares))
    elapsed = time.perf_counter() - started
    return elapsed, [latency for share in results for latency in share]


def main() -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dsn", help="a sync database to use (default: a throw-away embedded PostgreSQL)")
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    run = uuid.uuid4().hex[:8]

    with database(args.dsn) as dsn, receiver(dsn) as url:
        send_all(url, signed_events(200, f"warmup{run}"), args.threads)  # connections, prepared statements
        elapsed, latencies = send_all(url, signed_events(args.events, run), args.threads)
        with psycopg.connect(dsn) as conn:
            row = conn.execute(
                "SELECT count(*) FROM symphonics.webhook_events WHERE starts_with(intervention_id, %s)",
                [f"sym_{run}_"],
            ).fetchone()
        stored = row[0] if row else 0
    if stored != args.events:
        print(f"error: {stored} events stored, expected {args.events}", file=sys.stderr)
        return 1
    quantiles = statistics.quantiles(latencies, n=100)
    print(f"events sent and stored  {args.events:>10,}")
    print(f"client threads          {args.threads:>10}")
    print(f"time                    {elapsed:>10.2f} s")
    print(f"events/s                {args.events / elapsed:>10,.0f}")
    print(f"latency p50             {quantiles[49] * 1000:>10.1f} ms")
    print(f"latency p95             {quantiles[94] * 1000:>10.1f} ms")
    print(f"latency p99             {quantiles[98] * 1000:>10.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
