"""Functions run in separate processes by the tests (importable, for the ``spawn`` start method)."""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet

from include.symphonics.client import ClassQuota, ClientSettings, QuotaExhausted, SymphonicsClient


def client_for(
    url: str, client_id: str, client_secret: str, dsn: str, fernet_key: str, **settings: Any
) -> SymphonicsClient:
    return SymphonicsClient.with_shared_state(
        ClientSettings(url, client_id, client_secret, backoff_base=0.01, **settings), dsn, Fernet(fernet_key.encode())
    )


def validate_pdls(
    url: str, client_id: str, client_secret: str, dsn: str, fernet_key: str, count: int, settings: dict[str, Any]
) -> dict[str, int]:
    """Validate ``count`` PDLs, stopping at ``QuotaExhausted``; return what happened."""
    if "priority_classes" in settings:
        settings = {
            **settings,
            "priority_classes": {k: ClassQuota(*v) for k, v in settings["priority_classes"].items()},
        }
    client = client_for(url, client_id, client_secret, dsn, fernet_key, **settings)
    done = exhausted = 0
    try:
        for _ in range(count):
            try:
                client.validate_pdl("12345678901234")
                done += 1
            except QuotaExhausted:
                exhausted += 1
                break
    finally:
        client.close()
    return {"done": done, "exhausted": exhausted}


def _validate_into(queue: Any, start_together: Any, args: tuple[Any, ...]) -> None:
    start_together.wait(timeout=60)
    queue.put(validate_pdls(*args))


def validate_pdls_in_two_processes(args: tuple[Any, ...]) -> list[dict[str, int]]:
    """Run :func:`validate_pdls` in two processes that start together (a pool may run both in one)."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    start_together = context.Barrier(2)
    processes = [context.Process(target=_validate_into, args=(queue, start_together, args)) for _ in range(2)]
    for process in processes:
        process.start()
    try:
        return [queue.get(timeout=180) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=30)
