"""Serving the app with uvicorn, with one addition: a way for the app to close a connection abruptly.

``drop_after_commit`` must look to the client like a lost response (a connection error), never like a 201 nor
a 500. ASGI has no "close now" message, so the HTTP protocol below hands each request a callable that aborts
its connection, under the scope extension :data:`~include.symphonics_sandbox.gateway.ABORT_EXTENSION`.
"""

from __future__ import annotations

import logging
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from include.symphonics_sandbox.app import create_app
from include.symphonics_sandbox.config import SandboxConfig
from include.symphonics_sandbox.gateway import ABORT_EXTENSION


class AbortableH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, giving the app a way to abort the connection of the request it serves."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        wrapped = self.app

        async def app_with_abort(scope: Any, receive: Any, send: Any) -> None:
            scope.setdefault("extensions", {})[ABORT_EXTENSION] = self.abort_connection
            await wrapped(scope, receive, send)

        self.app = app_with_abort

    def abort_connection(self) -> None:
        """Close this connection now, sending nothing more."""
        if self.transport is not None:
            self.transport.abort()


def serve(config: SandboxConfig, log_level: str = "warning") -> None:
    """Serve the sandbox until interrupted.

    :param config: the configuration (``host`` and ``port`` say where).
    :param log_level: uvicorn's log level.
    """
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server_config = uvicorn.Config(
        create_app(config),
        host=config.host,
        port=config.port,
        http=AbortableH11Protocol,
        log_level=log_level,
        access_log=False,  # the call log is in memory (GET /_sandbox/calls); stderr would cost throughput
        server_header=False,
        date_header=False,  # the gateway sets Date itself, in-process too
        timeout_keep_alive=30,
    )
    uvicorn.Server(server_config).run()
