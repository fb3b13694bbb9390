"""The call guard: before each request leaves, the kill switch and the run's call budget may refuse it.

The client asks its guard before every request it would send (token requests and retries included), before it
takes a quota slot. A refusal raises :class:`~include.symphonics.client.errors.KillSwitchOn` or
:class:`~include.symphonics.client.errors.CallBudgetSpent`: nothing was sent.

* **Kill switch**: a callable the client's owner gives (the Airflow hook reads the Variable
  ``symphonics_kill_switch``). Its answer is kept at most ``kill_switch_ttl`` seconds, so turning the switch on
  stops the calls of a running task within that time without a read per request.
* **Budget**: the most requests one pipeline run may send, counted here as they leave. What the run spent
  before this process started (an earlier task of the run, a cleared and re-run task) is read once from its
  owner (the call log), never carried between tasks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from include.symphonics.client.errors import CallBudgetSpent, KillSwitchOn

#: Longest time a kill-switch reading is trusted, in seconds.
DEFAULT_KILL_SWITCH_TTL = 5.0


class RunBudget:
    """The requests one pipeline run may still send.

    :param limit: the most requests the run may send.
    :param spent_before: returns what the run sent before this budget was made (read on first use).
    """

    def __init__(self, limit: int, spent_before: Callable[[], int] | None = None) -> None:
        if limit < 0:
            raise ValueError("a call budget cannot be negative")
        self.limit = limit
        self._spent_before = spent_before
        self._before: int | None = None
        #: Requests admitted through this budget.
        self.spent_here = 0

    @property
    def spent(self) -> int:
        """Requests of the run so far: before this budget, and through it."""
        if self._before is None:
            self._before = int(self._spent_before()) if self._spent_before is not None else 0
        return self._before + self.spent_here

    def exhausted(self) -> bool:
        """Whether the next request would exceed the limit."""
        return self.spent >= self.limit


class CallGuard:
    """Decides before each request whether it may leave.

    :param kill_switch: returns True when no request may leave; ``None``: never.
    :param kill_switch_ttl: seconds a reading of the kill switch is trusted (0: read before every request).
    :param budget: the run's budget; ``None``: unlimited.
    :param clock: monotonic seconds (tests pass a fake one).
    """

    def __init__(
        self,
        kill_switch: Callable[[], bool] | None = None,
        *,
        kill_switch_ttl: float = DEFAULT_KILL_SWITCH_TTL,
        budget: RunBudget | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if kill_switch_ttl < 0:
            raise ValueError("kill_switch_ttl cannot be negative")
        self._kill_switch = kill_switch
        self.kill_switch_ttl = kill_switch_ttl
        self.budget = budget
        self._clock = clock
        self._lock = threading.Lock()
        self._reading: tuple[bool, float] | None = None
        #: Requests this guard let through.
        self.admitted = 0
        #: Requests this guard refused, per refusal (``kill_switch``, ``budget``).
        self.refused: dict[str, int] = {}

    def kill_switch_on(self) -> bool:
        """The kill switch, read at most every ``kill_switch_ttl`` seconds."""
        if self._kill_switch is None:
            return False
        now = self._clock()
        with self._lock:
            if self._reading is not None and now - self._reading[1] < self.kill_switch_ttl:
                return self._reading[0]
        value = bool(self._kill_switch())
        with self._lock:
            self._reading = (value, now)
        return value

    def check(self) -> None:
        """Refuse now if a request could not leave (nothing is counted).

        :raises KillSwitchOn: the kill switch is on.
        :raises CallBudgetSpent: the run's budget is spent.
        """
        if self.kill_switch_on():
            self._count_refusal("kill_switch")
            raise KillSwitchOn()
        if self.budget is not None and self.budget.exhausted():
            self._count_refusal("budget")
            raise CallBudgetSpent(self.budget.limit)

    def admit(self) -> None:
        """Let one request leave, or refuse it; an admitted request counts against the budget.

        :raises KillSwitchOn: the kill switch is on.
        :raises CallBudgetSpent: the run's budget is spent.
        """
        self.check()
        with self._lock:
            if self.budget is not None:
                if self.budget.exhausted():
                    self.refused["budget"] = self.refused.get("budget", 0) + 1
                    raise CallBudgetSpent(self.budget.limit)
                self.budget.spent_here += 1
            self.admitted += 1

    def _count_refusal(self, refusal: str) -> None:
        with self._lock:
            self.refused[refusal] = self.refused.get(refusal, 0) + 1
