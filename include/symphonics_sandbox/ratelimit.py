"""Fixed-window rate limits per client: requests per minute and per day, with a time-scale factor.

Windows are aligned on the Unix epoch in sandbox time (real seconds times ``time_scale``), so with
``time_scale: 60`` a minute lasts one real second and a day 24 real minutes. A request is counted in both
windows when accepted; a refused (429) request is not counted.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

MINUTE = 60.0
DAY = 86_400.0


@dataclass(frozen=True)
class RateDecision:
    """The limiter's answer for one request, and the window the response headers describe.

    The headers describe the tighter window: the one with fewer requests remaining (on a tie, the day).
    When refused, they describe the exhausted window that frees last.

    :param allowed: whether the request may proceed.
    :param limit: ``X-RateLimit-Limit``.
    :param remaining: ``X-RateLimit-Remaining``.
    :param reset_at: when that window ends (real Unix seconds).
    :param retry_after: seconds to wait (``Retry-After``), only when refused.
    """

    allowed: bool
    limit: int
    remaining: int
    reset_at: float
    retry_after: int | None = None

    def headers(self) -> list[tuple[bytes, bytes]]:
        """The rate-limit response headers (``X-RateLimit-Reset`` rounded up to a whole Unix second)."""
        headers = [
            (b"x-ratelimit-limit", str(self.limit).encode()),
            (b"x-ratelimit-remaining", str(self.remaining).encode()),
            (b"x-ratelimit-reset", str(math.ceil(self.reset_at)).encode()),
        ]
        if self.retry_after is not None:
            headers.append((b"retry-after", str(self.retry_after).encode()))
        return headers


class FixedWindowLimiter:
    """Per-client counters of the current minute and day windows."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # client id -> (minute window index, count, day window index, count)
        self._counters: dict[str, tuple[int, int, int, int]] = {}

    def hit(self, client_id: str, per_minute: int, per_day: int, time_scale: float, now: float) -> RateDecision:
        """Count a request of a client, or refuse it when a window is exhausted.

        :param client_id: the client making the request.
        :param per_minute: its per-minute limit.
        :param per_day: its per-day limit.
        :param time_scale: sandbox seconds per real second.
        :param now: the current real time (Unix seconds).
        """
        minute_length = MINUTE / time_scale
        day_length = DAY / time_scale
        minute_index = math.floor(now / minute_length)
        day_index = math.floor(now / day_length)
        minute_reset = (minute_index + 1) * minute_length
        day_reset = (day_index + 1) * day_length
        with self._lock:
            counted = self._counters.get(client_id)
            minute_count = counted[1] if counted is not None and counted[0] == minute_index else 0
            day_count = counted[3] if counted is not None and counted[2] == day_index else 0
            day_exhausted = day_count >= per_day
            minute_exhausted = minute_count >= per_minute
            if day_exhausted or minute_exhausted:
                if day_exhausted:
                    limit, reset_at = per_day, day_reset
                else:
                    limit, reset_at = per_minute, minute_reset
                return RateDecision(
                    allowed=False,
                    limit=limit,
                    remaining=0,
                    reset_at=reset_at,
                    retry_after=max(1, math.ceil(reset_at - now)),
                )
            minute_count += 1
            day_count += 1
            self._counters[client_id] = (minute_index, minute_count, day_index, day_count)
        minute_remaining = per_minute - minute_count
        day_remaining = per_day - day_count
        if minute_remaining < day_remaining:
            return RateDecision(True, per_minute, minute_remaining, minute_reset)
        return RateDecision(True, per_day, day_remaining, day_reset)

    def reset(self) -> None:
        """Forget every counter."""
        with self._lock:
            self._counters.clear()
