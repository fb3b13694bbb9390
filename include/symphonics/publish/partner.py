"""The partner calls of a run, behind the kill switch and the run's call budget.

Every partner call of the pipeline goes through :class:`PartnerGateway`, which refuses it when the kill switch
is on or the run's budget is spent, and counts it. The hook underneath does the HTTP retries, the quota and
the call log; nothing here retries.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from include.symphonics.client import (
    PUBLISH,
    CreateResult,
    InterventionUpdate,
    PdlLookup,
    PdlValidation,
    QuotaExhausted,
    SymphonicsError,
    SymphonicsUnavailable,
    UserValidation,
)

T = TypeVar("T")


class PartnerApi(Protocol):
    """The operations the pipeline uses (``SymphonicsHook`` and ``SymphonicsClient`` both have them)."""

    def validate_pdl(self, pdl: str, *, priority: str = ...) -> PdlValidation: ...

    def lookup_pdl(self, address: Mapping[str, Any], customer_name: str, *, priority: str = ...) -> PdlLookup: ...

    def validate_user(self, email: str, *, priority: str = ...) -> UserValidation: ...

    def create_intervention(self, payload: Mapping[str, Any], *, priority: str = ...) -> CreateResult: ...

    def update_intervention(
        self, symphonics_id: str, changes: Mapping[str, Any], *, priority: str = ...
    ) -> InterventionUpdate: ...


class StopPartnerCalls(Exception):
    """No more partner calls in this run: the rest stays in the ledger for the next one.

    :param reason: ``kill_switch``, ``budget``, ``quota`` or ``unavailable``.
    :param resets_at: for ``quota``, epoch seconds at which the partner's day starts again.
    """

    def __init__(self, reason: str, message: str, *, resets_at: float | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.resets_at = resets_at


def breaker_is_open(error: SymphonicsError) -> bool:
    """Whether ``error`` is the client's breaker refusing to send (nothing left the process)."""
    return (
        isinstance(error, SymphonicsUnavailable)
        and error.status is None
        and error.__cause__ is not None
        and (type(error.__cause__).__name__ == "CircuitBreakerError")
    )


@dataclass
class PartnerGateway:
    """The partner, as one run may use it.

    :param api: the hook (or a client).
    :param budget: the most calls this gateway may make.
    :param kill_switch: True when the ops kill switch is on: every call is refused.
    :param spent: calls made so far (operations, not HTTP attempts: the call log counts those).
    """

    api: PartnerApi | None
    budget: int
    kill_switch: bool = False
    spent: int = 0
    by_operation: dict[str, int] = field(default_factory=dict)

    def check(self) -> None:
        """Refuse before anything is committed when no call may be made.

        :raises StopPartnerCalls: kill switch on, or budget spent.
        """
        if self.kill_switch or self.api is None:
            raise StopPartnerCalls("kill_switch", "the kill switch is on: no partner call is made")
        if self.spent >= self.budget:
            raise StopPartnerCalls("budget", f"the run's call budget ({self.budget}) is spent")

    def _usable_api(self) -> PartnerApi:
        self.check()
        assert self.api is not None  # check() refuses a gateway without one
        return self.api

    def _call(self, operation: str, send: Callable[[], T]) -> T:
        self.check()
        self.spent += 1
        self.by_operation[operation] = self.by_operation.get(operation, 0) + 1
        try:
            return send()
        except QuotaExhausted as exc:
            # Raised before sending: the call did not happen.
            self.spent -= 1
            raise StopPartnerCalls("quota", str(exc), resets_at=exc.resets_at) from exc
        except SymphonicsUnavailable as exc:
            if breaker_is_open(exc):
                self.spent -= 1
                raise StopPartnerCalls("unavailable", str(exc)) from exc
            raise

    def validate_pdl(self, pdl: str) -> PdlValidation:
        """See ``SymphonicsHook.validate_pdl``."""
        api = self._usable_api()
        return self._call("validate_pdl", lambda: api.validate_pdl(pdl, priority=PUBLISH))

    def lookup_pdl(self, address: Mapping[str, Any], customer_name: str) -> PdlLookup:
        """See ``SymphonicsHook.lookup_pdl``."""
        api = self._usable_api()
        return self._call("lookup_pdl", lambda: api.lookup_pdl(address, customer_name, priority=PUBLISH))

    def validate_user(self, email: str) -> UserValidation:
        """See ``SymphonicsHook.validate_user``."""
        api = self._usable_api()
        return self._call("validate_user", lambda: api.validate_user(email, priority=PUBLISH))

    def create_intervention(self, payload: Mapping[str, Any]) -> CreateResult:
        """See ``SymphonicsHook.create_intervention``."""
        api = self._usable_api()
        return self._call("create_intervention", lambda: api.create_intervention(payload, priority=PUBLISH))

    def update_intervention(self, symphonics_id: str, changes: Mapping[str, Any]) -> InterventionUpdate:
        """See ``SymphonicsHook.update_intervention``."""
        api = self._usable_api()
        return self._call(
            "update_intervention", lambda: api.update_intervention(symphonics_id, changes, priority=PUBLISH)
        )
