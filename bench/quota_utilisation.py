"""How much of the partner's per-minute limit the shared quota actually uses, and how many 429 it gets.

A backlog of PDL validations is worked by several clients (threads, each with its own connections) sharing one
quota in a ``sync`` database, against a sandbox subprocess with the same per-minute limit, for several windows.
Printed: the share of the limit used in every complete window of the sandbox and overall, and the 429 count.
Goal: at least 0.95 of the limit, and zero 429.

    python bench/quota_utilisation.py [--per-minute 600] [--time-scale 6] [--windows 4] [--workers 8] [--dsn URL]

With ``--time-scale 6`` a sandbox minute lasts 10 real seconds, so four windows take under a minute.
"""

from __future__ import annotations

import argparse
import math
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import requests
import yaml
from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from include.symphonics.client import ClassQuota, ClientSettings, SymphonicsClient
from include.symphonics.db import migrate
from include.symphonics_devstack import localpg

# The sandbox's admin API needs a token; this run's is generated here and given to the sandbox it starts.
ADMIN_TOKEN = secrets.token_urlsafe(32)
CLIENT_ID = "wfa-sandbox-demo"
CLIENT_SECRET = "sandbox-demo-secret-not-for-production"  # noqa: S105 - the sandbox's published demo value


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_sandbox(workdir: Path, per_minute: int, time_scale: float) -> tuple[subprocess.Popen[bytes], str]:
    """Start the sandbox with the benchmark's limits on a free loopback port."""
    port = _free_port()
    config = workdir / "sandbox.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "rate_limit_per_minute": per_minute,
                "rate_limit_per_day": 10_000_000,
                "time_scale": time_scale,
                "token_expires_in": 86_400,
            }
        )
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "include.symphonics_sandbox", "--port", str(port), "--config", str(config)],
        cwd=localpg.PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(localpg.PROJECT_ROOT), "SYMPHONICS_SANDBOX_ADMIN_TOKEN": ADMIN_TOKEN},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            requests.get(f"{url}/_sandbox/health", timeout=1)
            return process, url
        except requests.ConnectionError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the sandbox did not start")


def sync_database(workdir: Path, dsn: str | None) -> str:
    """The ``sync`` database to share the quota in: ``dsn``, or a new one on an embedded server."""
    if dsn is None:
        server = localpg.start_embedded(workdir / "pg", keep_running=False)  # stops when the bench exits
        server.ensure_databases(["bench_sync"], recreate=True)
        dsn = server.url("bench_sync")
    migrate.upgrade(dsn)
    return dsn


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-minute", type=int, default=600, help="the per-minute limit of both sides")
    parser.add_argument("--time-scale", type=float, default=6.0, help="sandbox seconds per real second")
    parser.add_argument("--windows", type=int, default=4, help="complete minute windows to measure (>= 3)")
    parser.add_argument("--workers", type=int, default=8, help="clients working the backlog in parallel")
    parser.add_argument("--dsn", help="sync database (default: an embedded PostgreSQL in a temp folder)")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-quota-"))
    dsn = sync_database(workdir, args.dsn)
    sandbox, url = start_sandbox(workdir, args.per_minute, args.time_scale)
    minute = 60.0 / args.time_scale
    settings = ClientSettings(
        url,
        CLIENT_ID,
        CLIENT_SECRET,
        requests_per_minute=args.per_minute,
        requests_per_day=10_000_000,
        time_scale=args.time_scale,
        quota_window_margin=0.02,
        priority_classes={"publish": ClassQuota(1.0), "reconcile": ClassQuota(1.0), "ops": ClassQuota(1.0)},
        backoff_base=0.05,
    )
    key = Fernet(Fernet.generate_key())
    # Run from now to the end of the window ``windows`` after the current (partial) one.
    start = time.time()
    first_full = math.floor(start / minute) + 1
    stop_at = (first_full + args.windows) * minute
    errors: Counter[str] = Counter()

    def work_backlog() -> None:
        client = SymphonicsClient.with_shared_state(settings, dsn, key)
        try:
            while time.time() < stop_at:
                try:
                    client.validate_pdl("12345678901234")
                except Exception as exc:  # a benchmark counts failures instead of stopping at the first
                    errors[type(exc).__name__] += 1
        finally:
            client.close()

    try:
        threads = [threading.Thread(target=work_backlog) for _ in range(args.workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        admin = {"X-Sandbox-Admin-Token": ADMIN_TOKEN}
        calls = requests.get(f"{url}/_sandbox/calls", headers=admin, timeout=30).json()["calls"]
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)

    per_window = Counter(math.floor(call["time"] / minute) for call in calls if call["status"] != 429)
    too_many = sum(1 for call in calls if call["status"] == 429)
    full = [per_window.get(index, 0) for index in range(first_full, first_full + args.windows)]
    shares = [count / args.per_minute for count in full]
    print(
        f"limit: {args.per_minute}/min, time_scale {args.time_scale:g} (a minute = {minute:g} s), "
        f"{args.workers} workers, {args.windows} complete windows"
    )
    print("requests per window: " + ", ".join(str(count) for count in full))
    print("share of the limit per window: " + ", ".join(f"{share:.3f}" for share in shares))
    print(f"utilisation (complete windows): {sum(full) / (args.per_minute * len(full)):.3f}")
    print(f"429 received: {too_many}")
    print(f"client errors: {dict(errors) or 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
