"""The log of every call the partner routes received, kept in memory so tests and benchmarks count exactly."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class CallRecord:
    """One call received.

    :param method: the HTTP method.
    :param path: the decoded path.
    :param status: the status answered, or None when no response was sent (dropped, hung up).
    :param time: when it arrived (Unix seconds).
    :param duration_ms: how long it took to answer.
    :param client_id: the authenticated client, when known.
    :param request_id: the ``req_`` id answered in ``X-Request-Id``.
    :param route: the partner route name, or None for a path the partner does not have.
    :param fault: the injected fault that shaped the answer, if any.
    """

    method: str
    path: str
    status: int | None
    time: float
    duration_ms: float
    client_id: str | None
    request_id: str
    route: str | None
    fault: str | None

    def to_dict(self) -> dict[str, Any]:
        """Render for ``GET /_sandbox/calls`` (``at`` is ``time`` in ISO-8601)."""
        data = asdict(self)
        data["at"] = datetime.fromtimestamp(self.time, tz=UTC).isoformat(timespec="milliseconds")
        return data


class CallLog:
    """A bounded, thread-safe log of calls: the oldest go first once ``capacity`` is reached.

    :param capacity: how many calls are kept.
    """

    def __init__(self, capacity: int) -> None:
        self._lock = threading.Lock()
        self._records: deque[CallRecord] = deque(maxlen=capacity)

    def record(self, call: CallRecord) -> None:
        """Append a call.

        :param call: the call received.
        """
        with self._lock:
            self._records.append(call)

    def select(self, since: float | None = None, path_prefix: str | None = None) -> list[CallRecord]:
        """The calls received at or after a time and under a path prefix, oldest first.

        :param since: a Unix time, or None for all.
        :param path_prefix: a path prefix such as ``/crm/``, or None for all.
        """
        with self._lock:
            records = list(self._records)
        return [
            call
            for call in records
            if (since is None or call.time >= since) and (path_prefix is None or call.path.startswith(path_prefix))
        ]

    def clear(self) -> None:
        """Forget every call."""
        with self._lock:
            self._records.clear()
