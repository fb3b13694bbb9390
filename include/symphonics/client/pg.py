"""One lazily opened PostgreSQL connection of the ``sync`` database, for the client's shared state.

The quota, the shared token and the call log each keep their own :class:`SyncDatabase`: the token store holds
its lock across a token request, which itself takes a quota slot and writes a call row, so they must not share
a connection.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg


class SyncDatabase:
    """A connection to the ``sync`` database, opened on first use, reopened after a failure or a fork.

    :param dsn: libpq connection string or URL of the ``sync`` database.
    """

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._conn: psycopg.Connection | None = None
        self._pid = 0
        self._lock = threading.RLock()

    def _connection(self) -> psycopg.Connection:
        # A connection inherited through fork() belongs to the parent's server session: never reuse it.
        if self._conn is None or self._conn.closed or self._pid != os.getpid():
            self._conn = psycopg.connect(self.dsn, autocommit=True, application_name="symphonics-client")
            self._pid = os.getpid()
        return self._conn

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection]:
        """A transaction on the connection, serialised between the threads of this process."""
        with self._lock:
            conn = self._connection()
            try:
                with conn.transaction():
                    yield conn
            except psycopg.OperationalError:
                self.close()
                raise

    def close(self) -> None:
        """Close the connection (it reopens on next use)."""
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None
