"""The retry policy: which failures are retried and how long to wait before the next attempt.

Retried: 429, 5xx, connection errors and timeouts (all raised as
:class:`~include.symphonics.client.errors.TransientSymphonicsError`). Never retried: any other 4xx, which the
same request would get again. The wait is exponential with jitter, unless the partner sent ``Retry-After``
(seconds or an HTTP date): then the client has already made it a floor of the shared quota (no cap), and the
next attempt's quota slot waits it out, or ends the call at once with ``QuotaExhausted`` when the floor is
further than a run may wait; the retry itself only adds jitter.
tenacity runs the loop; the circuit breaker wraps it from outside: one exhausted loop is one breaker failure.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from include.symphonics.client.errors import TransientSymphonicsError


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait according to a ``Retry-After`` header.

    :param value: the header value: delta-seconds (``"120"``) or an HTTP date.
    :param now: epoch seconds to measure an HTTP date from (default: the local clock).
    :return: the delay, never negative; ``None`` when the header is absent or unreadable.
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a naive parse means the zone was missing
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a failed request is sent again.

    :param max_retries: retries after the first attempt (the partner's document says 5 at most).
    :param base_delay: first backoff delay, in seconds; it doubles at each retry.
    :param max_delay: the backoff never waits longer than this.
    :param jitter: up to this many seconds are added at random to every wait, so workers do not retry in step.
    """

    max_retries: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        if self.base_delay < 0 or self.max_delay < 0 or self.jitter < 0:
            raise ValueError("retry delays must not be negative")

    @property
    def max_attempts(self) -> int:
        """The first attempt plus the retries."""
        return 1 + self.max_retries

    def backoff(self, retry_number: int) -> float:
        """The wait before retry ``retry_number`` (1 for the first retry) when no ``Retry-After`` was sent.

        :param retry_number: 1-based index of the retry about to be made.
        """
        exponential = self.base_delay * (2 ** max(0, retry_number - 1))
        return min(self.max_delay, exponential) + random.uniform(0, self.jitter)  # noqa: S311 - jitter

    def wait_for(self, failure: BaseException | None, retry_number: int) -> float:
        """The wait before retry ``retry_number`` after ``failure``.

        :param failure: the exception of the attempt that just failed.
        :param retry_number: 1-based index of the retry about to be made.
        """
        retry_after = getattr(failure, "retry_after", None)
        if retry_after is not None:
            # The partner said when, and the quota's floor (shared by every process) holds the next attempt
            # until then: waiting here too would wait twice. A little jitter keeps concurrent workers apart.
            return random.uniform(0, self.jitter)  # noqa: S311
        return self.backoff(retry_number)

    def _tenacity_wait(self, state: RetryCallState) -> float:
        failure = state.outcome.exception() if state.outcome is not None else None
        return self.wait_for(failure, state.attempt_number)

    def retrying(
        self,
        *,
        sleep: Callable[[float], Any] = time.sleep,
        before_sleep: Callable[[RetryCallState], Any] | None = None,
    ) -> Retrying:
        """A tenacity controller for one call; after the last attempt the last typed error is re-raised.

        :param sleep: how to wait (tests pass a recorder).
        :param before_sleep: called before each wait (for the retry log line).
        """
        return Retrying(
            retry=retry_if_exception_type(TransientSymphonicsError),
            stop=stop_after_attempt(self.max_attempts),
            wait=self._tenacity_wait,
            sleep=sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
