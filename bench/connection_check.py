"""How long a connection check (the Test button's ``check_credentials``) takes to answer: prints seconds per case.

Issue 25 measured 28-38 s for a wrong secret and 71 s for an unreachable host (the check went through the
retries and waited for the quota). A check is now one attempt that never waits. Cases, with the connection's
default settings (5 retries, 5 s connect timeout): a wrong secret (a local sandbox), a closed port on loopback,
an address that should never answer (one attempt: at most the 5 s connect timeout; some networks refuse it at
once), and a full minute (no request sent).

Usage: ``python bench/connection_check.py``
"""

from __future__ import annotations

import time
from collections.abc import Callable

from include.symphonics.client import ClientSettings, InMemoryQuotaStore, SymphonicsClient, SymphonicsError
from tests.fixtures.sandbox import DEMO_CLIENT_ID, free_port, start_sandbox

NON_ROUTABLE = "https://10.255.255.1"  # TEST-NET-like private address nothing answers on: the connect times out


def _timed(check: Callable[[], None]) -> tuple[float, str]:
    started = time.perf_counter()
    try:
        check()
        outcome = "ok"
    except SymphonicsError as exc:
        outcome = f"{type(exc).__name__}: {str(exc)[:70]}"
    return time.perf_counter() - started, outcome


def main() -> None:
    sandbox = start_sandbox()
    try:
        cases: dict[str, SymphonicsClient] = {
            "wrong secret": SymphonicsClient(ClientSettings(sandbox.url, DEMO_CLIENT_ID, "a-wrong-client-secret")),
            "closed port": SymphonicsClient(ClientSettings(f"http://127.0.0.1:{free_port()}", DEMO_CLIENT_ID, "x")),
            "never answers": SymphonicsClient(ClientSettings(NON_ROUTABLE, DEMO_CLIENT_ID, "x")),
        }
        busy_store = InMemoryQuotaStore()
        busy = SymphonicsClient(
            ClientSettings(sandbox.url, DEMO_CLIENT_ID, "a-wrong-client-secret", requests_per_minute=1),
            quota_store=busy_store,
        )
        busy.quota.acquire("ops")  # another process took the minute's only request
        cases["minute full"] = busy
        for name, client in cases.items():
            seconds, outcome = _timed(client.check_credentials)
            print(f"{name:14s} {seconds:6.2f} s  {outcome}")
    finally:
        sandbox.stop()


if __name__ == "__main__":
    main()
