"""The circuit breaker around each call, outside the retry loop.

After ``failure_threshold`` consecutive calls that ended in
:class:`~include.symphonics.client.errors.SymphonicsUnavailable` (5xx, connection errors or timeouts, each
after its retries), the breaker opens: calls fail at once, sending nothing and spending no quota, until
``reset_timeout`` seconds have passed; then one trial call goes through (half-open) and closes it again on
success. Only unavailability counts: a 4xx or an exhausted quota says nothing about the partner's health.

The state lives in the process (pybreaker's memory storage): a breaker shared by every worker would need
Redis, and each process finding out after a few calls is cheap next to the quota it saves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pybreaker

from include.symphonics.client.errors import BreakerOpen, SymphonicsUnavailable

T = TypeVar("T")


def _is_not_unavailability(exc: BaseException) -> bool:
    return not isinstance(exc, SymphonicsUnavailable)


class _StateChangeListener(pybreaker.CircuitBreakerListener):
    """Tells the breaker's owner each change of state (``closed``, ``open``, ``half-open``)."""

    def __init__(self, on_state_change: Callable[[str, str], None]) -> None:
        self._on_state_change = on_state_change

    def state_change(self, cb: pybreaker.CircuitBreaker, old_state: Any, new_state: Any) -> None:
        self._on_state_change(str(getattr(old_state, "name", old_state)), str(getattr(new_state, "name", new_state)))


class SymphonicsBreaker:
    """A pybreaker circuit breaker that fails with :class:`BreakerOpen` (a ``SymphonicsUnavailable``) while open.

    :param failure_threshold: consecutive unavailable calls that open the breaker.
    :param reset_timeout: seconds the breaker stays open before letting a trial call through.
    :param name: shown in the error message.
    :param on_state_change: called with the old and the new state at each change (metrics, logs).
    """

    def __init__(
        self,
        failure_threshold: int = 5,
        reset_timeout: float = 60.0,
        name: str = "symphonics",
        on_state_change: Callable[[str, str], None] | None = None,
    ) -> None:
        listeners = [_StateChangeListener(on_state_change)] if on_state_change is not None else []
        self._breaker = pybreaker.CircuitBreaker(
            fail_max=failure_threshold,
            reset_timeout=reset_timeout,
            exclude=[_is_not_unavailability],
            name=name,
            # The call that trips the breaker raises its own error (with its status and request_id).
            throw_new_error_on_trip=False,
            listeners=listeners,
        )
        self.reset_timeout = reset_timeout

    @property
    def state(self) -> str:
        """``closed``, ``open`` or ``half-open``."""
        return str(self._breaker.current_state)

    def call(self, func: Callable[[], T]) -> T:
        """Run ``func`` through the breaker.

        :param func: the call, retry loop included.
        :raises BreakerOpen: at once while the breaker is open (nothing is sent).
        """
        try:
            return self._breaker.call(func)
        except pybreaker.CircuitBreakerError as exc:
            raise BreakerOpen(
                f"Symphonics circuit breaker is open after repeated failures; calls resume after a "
                f"{self.reset_timeout:g} s cool-down"
            ) from exc

    def reset(self) -> None:
        """Close the breaker (tests, or an operator after an incident)."""
        self._breaker.close()
