"""The stand-alone receiver closes connections that trickle their headers (a real socket on loopback): each is
answered 408 once the header deadline passes, while a well-behaved sender is served meanwhile."""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.webhooks.conftest import (
    StandaloneReceiver,
    encode,
    signed_headers,
    start_standalone,
    status_update,
    stop_standalone,
)

pytestmark = pytest.mark.integration

#: Slow senders, as the probe had them.
SLOW_SENDERS = 10
#: The test gives up after this long: far past the 1 s deadline, so a refusal that never comes fails it, bounded.
GIVE_UP_SECONDS = 30.0


@pytest.fixture
def quick_deadline(webhook_db: str, tmp_path: Path) -> Iterator[StandaloneReceiver]:
    server = start_standalone(webhook_db, tmp_path, SYMPHONICS_WEBHOOK_HEADER_DEADLINE_SECONDS="1")
    try:
        yield server
    finally:
        stop_standalone(server)


def _trickle_until_answered(sockets: list[socket.socket]) -> dict[socket.socket, bytes]:
    """Send a header byte on each socket every 0.2 s until the server answers or closes it (or the test gives up)."""
    answers: dict[socket.socket, bytes] = {}
    give_up = time.monotonic() + GIVE_UP_SECONDS
    while len(answers) < len(sockets) and time.monotonic() < give_up:
        for sock in sockets:
            if sock in answers:
                continue
            try:
                sock.sendall(b"a")
            except OSError:
                answers[sock] = b""
        readable, _, _ = select.select([s for s in sockets if s not in answers], [], [], 0.2)
        for sock in readable:
            try:
                answers[sock] = sock.recv(1024)
            except OSError:
                answers[sock] = b""
    return answers


def _response(sock: socket.socket) -> bytes:
    """One whole response (headers and its ``content-length`` of body) read from ``sock``."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(1024)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(1024)
    return data


def test_trickled_headers_are_cut_at_the_deadline_and_others_are_served(
    quick_deadline: StandaloneReceiver,
) -> None:
    host, port = quick_deadline.url.removeprefix("http://").split(":")
    sockets = [socket.create_connection((host, int(port)), timeout=5) for _ in range(SLOW_SENDERS)]
    try:
        for sock in sockets:
            sock.sendall(b"POST / HTTP/1.1\r\nHost: receiver\r\nX-Slow: ")
        body = encode(status_update())
        with requests.Session() as session:
            session.trust_env = False
            served = session.post(quick_deadline.url, data=body, headers=signed_headers(body), timeout=10)
        answers = _trickle_until_answered(sockets)
    finally:
        for sock in sockets:
            sock.close()

    assert served.status_code == 200
    assert len(answers) == SLOW_SENDERS, "a trickling connection was still open when the test gave up"
    assert all(answer.startswith(b"HTTP/1.1 408") for answer in answers.values()), set(answers.values())
    assert "headers not received within 1 s" in quick_deadline.stderr()


def test_a_kept_alive_connection_gets_the_deadline_again(quick_deadline: StandaloneReceiver) -> None:
    host, port = quick_deadline.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: receiver\r\n\r\n")
        assert _response(sock).startswith(b"HTTP/1.1 200")
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: receiver\r\nX-Slow: ")
        answers = _trickle_until_answered([sock])

    assert answers[sock].startswith(b"HTTP/1.1 408")
