"""The stand-alone receiver's HTTP protocol: uvicorn's h11 protocol with a deadline for a request's headers.

uvicorn cuts an idle kept-alive connection, and the receiver cuts a slow body (``body_deadline_seconds``), but
nothing cut a client trickling its *headers* a byte at a time: each such connection was held as long as the client
liked. Here every connection must deliver a request's full headers within ``header_deadline_seconds`` of opening (or
of the previous answer, when kept alive); otherwise it is answered 408 and closed. The size of the headers is
already bounded by h11 (``h11_max_incomplete_event_size``, 16 KiB).
"""

from __future__ import annotations

import asyncio
import logging
from typing import cast

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from include.symphonics.webhooks.settings import DEFAULT_HEADER_DEADLINE_SECONDS

log = logging.getLogger(__name__)

_HEADERS_TOO_SLOW = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class HeaderDeadlineProtocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request headers are not complete in time."""

    header_deadline_seconds: float = DEFAULT_HEADER_DEADLINE_SECONDS
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_header_deadline()  # a kept-alive connection: the next request's headers, in time too

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def _arm_header_deadline(self) -> None:
        self._disarm_header_deadline()
        if not self.transport.is_closing():
            self._header_timer = self.loop.call_later(self.header_deadline_seconds, self._headers_overdue)

    def _disarm_header_deadline(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_overdue(self) -> None:
        self._header_timer = None
        # Once the headers are in, h11 has left IDLE: the body's own deadline (the app's) takes over.
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        log.warning(
            "webhooks: request headers not received within %g s: connection closed (408)", self.header_deadline_seconds
        )
        self.transport.write(_HEADERS_TOO_SLOW)
        self.transport.close()


def header_deadline_protocol(seconds: float) -> type[HeaderDeadlineProtocol]:
    """The protocol class for ``uvicorn.run(http=...)`` with this header deadline.

    :param seconds: how long a connection may take to deliver a request's headers.
    """
    return cast(
        "type[HeaderDeadlineProtocol]",
        type("HeaderDeadlineProtocol", (HeaderDeadlineProtocol,), {"header_deadline_seconds": seconds}),
    )
