"""The receiver under hostile traffic, over real HTTP on loopback (stand-alone and mounted as the api-server does):
floods of refused requests cost a bounded number of rows and no pool connection, a source past its refusal limit
is answered 429 while its signed events pass, slow bodies are cut at the deadline, the retention purges refusals.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from include.symphonics.webhooks import WebhookSettings, create_webhook_app, store
from tests.fixtures.sandbox import free_port
from tests.webhooks.conftest import (
    SECRET,
    StandaloneReceiver,
    encode,
    flush_refusals,
    rows,
    sign,
    signed_headers,
    start_standalone,
    status_update,
    stop_standalone,
)
from tests.webhooks.test_plugin import load_plugin

pytestmark = pytest.mark.integration

#: Reasons a flood of unsigned requests can be counted under (rate_limited once the source is past its limit).
FLOOD_REASONS = {"missing_signature", "bad_signature", "too_large", "wrong_content_type", "rate_limited"}
SAMPLES_PER_SOURCE = 3
SAMPLES_PER_MINUTE = 100
REFUSAL_LIMIT = 60


def bad_request(number: int) -> tuple[bytes, dict[str, str]]:
    """One of five kinds of hostile request, none validly signed."""
    body = encode(status_update(f"sym_flood_{number}"))
    kind = number % 5
    if kind == 0:  # unsigned
        return body, {"Content-Type": "application/json"}
    if kind == 1:  # forged
        return body, signed_headers(body, secret="forged")
    if kind == 2:  # malformed and unsigned
        return b"{not json" * 3, {"Content-Type": "application/json", "X-Symphonics-Signature": "0" * 64}
    if kind == 3:  # oversized: declared above the limit
        return b"x" * 70_000, {"Content-Type": "application/json", "X-Symphonics-Signature": sign(b"x")}
    return body, {"Content-Type": "text/plain", "X-Symphonics-Signature": sign(body)}  # wrong content type


def flood(url: str, bad: int, valid: int, run: str, threads: int = 6) -> tuple[Counter[int], list[Any], list[str]]:
    """Send ``bad`` hostile requests with ``valid`` signed events mixed in, from several threads.

    :return: the answers' status codes to bad requests, the answers to valid ones, the Retry-After values seen.
    """
    valid_every = max(1, bad // max(valid, 1))
    plan: list[tuple[str, bytes, dict[str, str]]] = []
    sent_valid = 0
    for number in range(bad):
        plan.append(("bad", *bad_request(number)))
        if number % valid_every == 0 and sent_valid < valid:
            body = encode(status_update(f"sym_{run}_{sent_valid}"))
            plan.append(("valid", body, signed_headers(body)))
            sent_valid += 1
    while sent_valid < valid:
        body = encode(status_update(f"sym_{run}_{sent_valid}"))
        plan.append(("valid", body, signed_headers(body)))
        sent_valid += 1
    shares = [plan[index::threads] for index in range(threads)]
    lock = threading.Lock()
    bad_codes: Counter[int] = Counter()
    valid_answers: list[Any] = []
    retry_after: list[str] = []

    def send(share: list[tuple[str, bytes, dict[str, str]]]) -> None:
        with requests.Session() as session:
            session.trust_env = False
            for kind, body, headers in share:
                response = session.post(url, data=body, headers=headers, timeout=30)
                with lock:
                    if kind == "valid":
                        valid_answers.append((response.status_code, response.json()))
                    else:
                        bad_codes[response.status_code] += 1
                        if response.status_code == 429:
                            retry_after.append(response.headers.get("Retry-After", ""))

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(send, shares))
    return bad_codes, valid_answers, retry_after


def minutes_between(start: datetime, end: datetime) -> int:
    """How many distinct clock minutes the interval touches."""
    first, last = start.replace(second=0, microsecond=0), end.replace(second=0, microsecond=0)
    return int((last - first).total_seconds() // 60) + 1


def assert_flood_recorded(dsn: str, run: str, bad: int, valid: int, started: datetime, ended: datetime) -> None:
    """Every valid event stored once; every bad request counted; rows bounded by minutes, not by requests."""
    stored = rows(
        dsn,
        "SELECT intervention_id, count(*) AS n FROM symphonics.webhook_events "
        "WHERE starts_with(intervention_id, %(prefix)s) GROUP BY 1",
        {"prefix": f"sym_{run}_"},
    )
    assert len(stored) == valid
    assert {row["n"] for row in stored} == {1}
    counts = rows(dsn, "SELECT * FROM symphonics.webhook_refusals")
    samples = rows(dsn, "SELECT * FROM symphonics.webhook_rejections")
    assert sum(row["requests"] for row in counts) == bad
    assert {row["reason"] for row in counts} <= FLOOD_REASONS
    assert {row["remote_addr"] for row in counts} == {"127.0.0.1"}
    minutes = minutes_between(started, ended)
    # One row per minute, reason and source; a few samples per minute, reason and source: whatever the flood's size.
    assert len(counts) <= minutes * len(FLOOD_REASONS)
    assert len(samples) <= minutes * min(SAMPLES_PER_MINUTE, SAMPLES_PER_SOURCE * len(FLOOD_REASONS))
    assert {row["signed_body"] for row in samples} == {None}  # never the body of an unsigned request
    assert {row["signature_valid"] for row in samples} == {False}
    assert all(row["body_size"] is None or row["body_size"] >= 0 for row in samples)


def test_flood_on_the_standalone_receiver_is_counted_in_bounded_rows(
    webhook_db: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bad, valid, run = 3000, 60, "standalone"
    server = start_standalone(webhook_db, tmp_path, SYMPHONICS_WEBHOOK_REFUSAL_FLUSH_SECONDS="1")
    try:
        started = datetime.now(UTC)
        bad_codes, valid_answers, retry_after = flood(server.url, bad, valid, run)
        ended = datetime.now(UTC)
    finally:
        stop_standalone(server)  # the receiver writes what it counted last when it stops
    # Every valid event accepted and stored once, although its source was past its refusal limit.
    assert [code for code, _ in valid_answers] == [200] * valid
    assert {answer["status"] for _, answer in valid_answers} == {"stored"}
    assert set(bad_codes) <= {401, 413, 415, 429}
    assert bad_codes[429] >= bad - REFUSAL_LIMIT
    assert retry_after
    assert all(value.isdigit() and 1 <= int(value) <= 60 for value in retry_after)
    assert_flood_recorded(webhook_db, run, bad, valid, started, ended)
    # Logs bounded too: a line per reason and source and minute when first seen, one with the count after.
    log_lines = [line for line in server.stderr().splitlines() if "rejected:" in line]
    assert len(log_lines) <= minutes_between(started, ended) * len(FLOOD_REASONS)


@contextlib.contextmanager
def served_plugin(dsn: str, monkeypatch: pytest.MonkeyPatch, **env: str) -> Iterator[tuple[str, FastAPI]]:
    """The plugin's receiver mounted on a FastAPI app as the api-server mounts it, served by uvicorn on loopback."""
    module = load_plugin()
    monkeypatch.setenv("SYMPHONICS_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("SYMPHONICS_SYNC_DSN", dsn)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    api_server = FastAPI()
    for entry in module.SymphonicsWebhooksPlugin.fastapi_apps:  # as airflow.api_fastapi.app.init_plugins does
        api_server.mount(entry["url_prefix"], entry["app"])
    for entry in module.SymphonicsWebhooksPlugin.fastapi_root_middlewares:
        api_server.add_middleware(entry["middleware"], *entry["args"], **entry["kwargs"])
    receiver_app = module.SymphonicsWebhooksPlugin.fastapi_apps[0]["app"]
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(api_server, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/symphonics/webhooks", receiver_app
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        receiver_app.state.receiver.close()


def test_flood_on_the_plugin_mount_is_counted_in_bounded_rows(webhook_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    bad, valid, run = 1500, 30, "plugin"
    with served_plugin(webhook_db, monkeypatch) as (url, _app):
        started = datetime.now(UTC)
        bad_codes, valid_answers, retry_after = flood(url, bad, valid, run, threads=4)
        ended = datetime.now(UTC)
    assert [code for code, _ in valid_answers] == [200] * valid
    assert bad_codes[429] >= bad - REFUSAL_LIMIT
    assert retry_after
    assert_flood_recorded(webhook_db, run, bad, valid, started, ended)


def test_the_retention_purge_deletes_refusal_counts_and_samples(webhook_db: str, tmp_path: Path) -> None:
    from include.symphonics.reconcile.purge import purge

    server = start_standalone(webhook_db, tmp_path)
    try:
        flood(server.url, 500, 5, "purge", threads=4)
    finally:
        stop_standalone(server)
    assert rows(webhook_db, "SELECT * FROM symphonics.webhook_refusals")
    assert rows(webhook_db, "SELECT * FROM symphonics.webhook_rejections")
    kept = purge(
        webhook_db,
        body_retention=timedelta(days=30),
        api_calls_retention=timedelta(days=90),
        refusal_retention=timedelta(days=1),
    )
    assert (kept["refusal_counts"], kept["refusal_samples"]) == (0, 0)  # younger than the retention
    result = purge(
        webhook_db,
        body_retention=timedelta(days=30),
        api_calls_retention=timedelta(days=90),
        refusal_retention=timedelta(0),
    )
    assert result["refusal_counts"] > 0
    assert result["refusal_samples"] > 0
    assert rows(webhook_db, "SELECT * FROM symphonics.webhook_refusals") == []
    assert rows(webhook_db, "SELECT * FROM symphonics.webhook_rejections") == []
    assert len(rows(webhook_db, "SELECT id FROM symphonics.webhook_events")) == 5  # events are not refusals


def test_unsigned_requests_take_no_connection_from_the_pool(webhook_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_pool(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a refused request asked the pool for a connection")

    app = create_webhook_app(WebhookSettings(secret=SECRET, dsn=webhook_db, refusal_limit=50))
    monkeypatch.setattr(store.ConnectionPool, "connection", no_pool)
    with TestClient(app, raise_server_exceptions=True) as client:
        codes = Counter(
            client.post("/", content=body, headers=headers).status_code
            for body, headers in (bad_request(number) for number in range(300))
        )
        assert set(codes) == {401, 413, 415, 429}
        assert codes[429] == 300 - 50
        flush_refusals(client)  # on the ledger's own connection
    app.state.receiver.close()
    counts = rows(webhook_db, "SELECT reason, sum(requests)::int AS n FROM symphonics.webhook_refusals GROUP BY 1")
    assert sum(row["n"] for row in counts) == 300
    assert {row["reason"]: row["n"] for row in counts}["rate_limited"] == 250


def test_a_source_past_its_limit_gets_429_but_its_signed_events_pass(webhook_db: str) -> None:
    app = create_webhook_app(WebhookSettings(secret=SECRET, dsn=webhook_db, refusal_limit=5))
    with TestClient(app) as client:
        forged = encode(status_update("sym_forged"))
        answers = [client.post("/", content=forged, headers=signed_headers(forged, secret="x")) for _ in range(8)]
        assert [answer.status_code for answer in answers] == [401] * 5 + [429] * 3
        limited = answers[-1]
        assert limited.json()["error"]["code"] == "TOO_MANY_REQUESTS"
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        for number in range(3):
            body = encode(status_update(f"sym_signed_{number}"))
            response = client.post("/", content=body, headers=signed_headers(body))
            assert response.status_code == 200
            assert response.json()["status"] == "stored"
        # A validly signed but malformed or late request is not limited either: it is the partner's.
        late = encode(status_update("sym_late", age=3600))
        assert client.post("/", content=late, headers=signed_headers(late)).status_code == 422
        junk = b"{not json"
        assert client.post("/", content=junk, headers=signed_headers(junk)).status_code == 400
    app.state.receiver.close()
    assert len(rows(webhook_db, "SELECT id FROM symphonics.webhook_events WHERE NOT late")) == 3


def read_available(conn: socket.socket, answers: list[bytes], index: int) -> bool:
    """Append what ``conn`` has to read to ``answers[index]``; False once the server has closed it."""
    conn.setblocking(False)
    try:
        while chunk := conn.recv(4096):
            answers[index] += chunk
        return False  # an empty read: the server closed the connection
    except BlockingIOError:
        return True
    except (ConnectionResetError, BrokenPipeError):
        return False
    finally:
        conn.setblocking(True)


def slow_requests(url: str, connections: int) -> list[bytes]:
    """Open ``connections`` requests declaring 60,000 bytes and send one byte every 0.2 s; return what the
    server answered on each before it closed the connection (the sender gives up after 30 s)."""
    host, port_path = url.removeprefix("http://").split(":", 1)
    port, _, path = port_path.partition("/")
    body = encode(status_update())
    head = (
        f"POST /{path} HTTP/1.1\r\nHost: receiver\r\nContent-Type: application/json\r\n"
        f"X-Symphonics-Signature: {sign(body)}\r\nContent-Length: 60000\r\n\r\n"
    ).encode()
    sockets = [socket.create_connection((host, int(port)), timeout=30) for _ in range(connections)]
    answers = [b""] * connections
    open_ones = set(range(connections))
    try:
        for conn in sockets:
            conn.sendall(head)
        give_up = time.monotonic() + 30
        for byte in itertools.cycle(body):
            if not open_ones or time.monotonic() > give_up:
                break
            for index in sorted(open_ones):
                # Read before writing: once the server has answered, this sender stops sending and only waits
                # for the close (a byte sent after the server's close would be answered by a reset, and a reset
                # may discard the answer still unread in this socket's buffer).
                if not read_available(sockets[index], answers, index):
                    open_ones.discard(index)  # closed by the server
                elif not answers[index]:
                    try:
                        sockets[index].sendall(bytes([byte]))
                    except (BrokenPipeError, ConnectionResetError):
                        read_available(sockets[index], answers, index)
                        open_ones.discard(index)
            time.sleep(0.2)
    finally:
        for conn in sockets:
            conn.close()
    assert not open_ones, f"{len(open_ones)} slow connection(s) still open"
    return answers


def test_slow_bodies_are_cut_at_the_deadline_by_the_standalone_receiver(webhook_db: str, tmp_path: Path) -> None:
    server: StandaloneReceiver = start_standalone(
        webhook_db, tmp_path, SYMPHONICS_WEBHOOK_BODY_DEADLINE_SECONDS="1", SYMPHONICS_WEBHOOK_REFUSAL_LIMIT="100"
    )
    try:
        answers = slow_requests(server.url, 20)
    finally:
        stop_standalone(server)
    assert all(answer.startswith(b"HTTP/1.1 408 ") for answer in answers), {answer[:20] for answer in answers}
    counts = rows(webhook_db, "SELECT reason, sum(requests)::int AS n FROM symphonics.webhook_refusals GROUP BY 1")
    assert counts == [{"reason": "slow_body", "n": 20}]


def test_slow_bodies_are_cut_at_the_deadline_on_the_plugin_mount(
    webhook_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with served_plugin(webhook_db, monkeypatch, SYMPHONICS_WEBHOOK_BODY_DEADLINE_SECONDS="1") as (url, _app):
        answers = slow_requests(url, 10)
    assert all(answer.startswith(b"HTTP/1.1 408 ") for answer in answers), {answer[:20] for answer in answers}


def test_the_dashboard_and_the_alert_read_the_aggregate(webhook_db: str) -> None:
    import psycopg

    from include.symphonics.dashboard import queries
    from include.symphonics.reconcile.rules import RunFacts, evaluate
    from include.symphonics.reconcile.settings import ReconcileSettings

    app = create_webhook_app(WebhookSettings(secret=SECRET, dsn=webhook_db, refusal_limit=40))
    with TestClient(app) as client:
        for number in range(120):  # 40 refused with their own status, then 80 rate-limited
            body, headers = bad_request(number)
            client.post("/", content=body, headers=headers)
        late = encode(status_update("sym_dash_late", age=3600))
        assert client.post("/", content=late, headers=signed_headers(late)).status_code == 422
        valid = encode(status_update("sym_dash_ok"))
        assert client.post("/", content=valid, headers=signed_headers(valid)).status_code == 200
    app.state.receiver.close()
    counts = {
        row["reason"]: row["n"]
        for row in rows(
            webhook_db, "SELECT reason, sum(requests)::int AS n FROM symphonics.webhook_refusals GROUP BY 1"
        )
    }
    assert sum(counts.values()) == 121
    assert len(rows(webhook_db, "SELECT * FROM symphonics.webhook_rejections")) < 121  # a sample, not every one

    with psycopg.connect(webhook_db, autocommit=True) as conn:
        panel = queries.webhooks_panel(conn, datetime.now(UTC))
    assert {row["reason"]: row["requests"] for row in panel["rejections"]} == counts
    assert panel["refused"] == 120  # the late event is counted as late, not refused
    assert sum(hour["refused"] for hour in panel["hourly"]) == 120
    assert (panel["accepted"], panel["late"]) == (1, 1)

    settings = ReconcileSettings(signature_failures_threshold=1)
    [alert] = [alert for alert in evaluate(webhook_db, None, RunFacts(), settings) if "signature" in alert.kind]
    assert alert.details["signature_failures"] == sum(
        counts.get(reason, 0) for reason in ("missing_signature", "bad_signature", "rate_limited")
    )
