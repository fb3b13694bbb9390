"""Throughput of the Symphonics sandbox on loopback: prints requests/s and p50/p95 latency.

Starts the sandbox as a subprocess on a free port with its rate limits raised, then fires a bounded number of
authenticated ``GET /validation/pdl/{pdl}`` from a few threads, each with its own keep-alive session. The
sandbox must never be what limits a benchmark: the target is at least 500 requests/s on a 2-core machine.

Usage: ``python bench/sandbox_throughput.py [--requests 5000] [--threads 4]``
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
# Sandbox demo values (docs/SANDBOX.md), not secrets.
CLIENT_ID = "wfa-sandbox-demo"
CLIENT_SECRET = "sandbox-demo-secret-not-for-production"  # noqa: S105 - sandbox demo value
MAX_SECONDS = 120.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_sandbox(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    config = workdir / "sandbox.yaml"
    config.write_text(
        yaml.safe_dump({"rate_limit_per_minute": 10_000_000, "rate_limit_per_day": 100_000_000}), encoding="utf-8"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "include.symphonics_sandbox", "--port", str(port), "--config", str(config)],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/_sandbox/health", timeout=1).ok:
                return process, url
        except requests.RequestException:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("the sandbox did not start within 20 s")


def _fire(url: str, token: str, count: int, latencies: list[float], failures: list[int], stop_at: float) -> None:
    session = requests.Session()
    session.trust_env = False
    session.headers["Authorization"] = f"Bearer {token}"
    pdl_url = f"{url}/validation/pdl/12345678901234"
    local: list[float] = []
    bad = 0
    for _ in range(count):
        if time.monotonic() > stop_at:
            break
        started = time.perf_counter()
        response = session.get(pdl_url, timeout=10)
        local.append(time.perf_counter() - started)
        if response.status_code != 200:
            bad += 1
    session.close()
    latencies.extend(local)
    failures.append(bad)


def main() -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000, help="total requests (default 5000)")
    parser.add_argument("--threads", type=int, default=4, help="client threads (default 4)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sandbox-bench-") as workdir:
        process, url = _start_sandbox(Path(workdir))
        try:
            token = requests.post(
                f"{url}/auth/token",
                data={"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
                timeout=10,
            ).json()["access_token"]
            _fire(url, token, 200, [], [], time.monotonic() + 30)  # warm-up, not measured
            latencies: list[float] = []
            failures: list[int] = []
            per_thread = args.requests // args.threads
            stop_at = time.monotonic() + MAX_SECONDS
            threads = [
                threading.Thread(target=_fire, args=(url, token, per_thread, latencies, failures, stop_at))
                for _ in range(args.threads)
            ]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - started
        finally:
            process.terminate()
            process.wait(timeout=10)
    done = len(latencies)
    quantiles = statistics.quantiles(latencies, n=100)
    print(f"sandbox throughput: {done} GET /validation/pdl in {elapsed:.2f} s with {args.threads} threads")
    print(f"  requests/s: {done / elapsed:.0f}")
    print(f"  latency p50: {quantiles[49] * 1000:.2f} ms  p95: {quantiles[94] * 1000:.2f} ms")
    print(f"  non-200 answers: {sum(failures)}")
    return 0 if sum(failures) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
