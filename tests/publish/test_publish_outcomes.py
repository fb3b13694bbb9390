"""What the publisher records for each answer the client sorted (no server: the outcome's parameters only)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from include.symphonics.client import (
    CreateOutcome,
    CreateResult,
    SymphonicsAuthError,
    SymphonicsConflict,
    SymphonicsError,
    SymphonicsForbidden,
    SymphonicsNotFound,
    SymphonicsRateLimited,
    SymphonicsUnavailable,
    SymphonicsValidationError,
)
from include.symphonics.core.states import LedgerState, Reason
from include.symphonics.publish.forbidden import ForbiddenStreak
from include.symphonics.publish.publisher import PublishCounts, _answered, _create, _failure
from include.symphonics.publish.settings import PublishSettings

SETTINGS = PublishSettings(max_attempts=3)
ROW: dict[str, Any] = {"id": 1, "external_id": "int_1", "payload": {"external_id": "int_1", "documents": []}}


@pytest.mark.parametrize(
    ("error", "attempts", "state", "reason"),
    [
        (SymphonicsValidationError("bad", status=400), 1, LedgerState.REJECTED_VALIDATION, Reason.PARTNER_REFUSED),
        (SymphonicsValidationError("bad", status=422), 1, LedgerState.REJECTED_VALIDATION, Reason.PARTNER_REFUSED),
        (SymphonicsForbidden("no", status=403), 1, LedgerState.DEAD_LETTER, Reason.PARTNER_FORBIDDEN),
        (SymphonicsNotFound("gone", status=404), 1, LedgerState.DEAD_LETTER, Reason.PARTNER_NOT_FOUND),
        (SymphonicsConflict("conflict", status=409), 1, LedgerState.DEAD_LETTER, Reason.PARTNER_REFUSED),
        (SymphonicsRateLimited("429", status=429), 1, LedgerState.FAILED_RETRYABLE, Reason.PARTNER_UNAVAILABLE),
        (SymphonicsUnavailable("503", status=503), 1, LedgerState.FAILED_RETRYABLE, Reason.PARTNER_UNAVAILABLE),
        (SymphonicsUnavailable("timeout"), 2, LedgerState.FAILED_RETRYABLE, Reason.PARTNER_UNAVAILABLE),
        (SymphonicsUnavailable("503", status=503), 3, LedgerState.DEAD_LETTER, Reason.TOO_MANY_ATTEMPTS),
    ],
)
def test_each_failure_of_a_send_gives_one_state(
    error: SymphonicsError, attempts: int, state: LedgerState, reason: Reason
) -> None:
    outcome = _failure(ROW, attempts, error, SETTINGS, PublishCounts())
    assert (outcome["state"], outcome["reason"]) == (state.value, reason.value)
    assert outcome["http_status"] == error.status


class _Creates:
    """A client whose create answers ``result`` (the guard and the rest are not needed by ``_create``)."""

    def __init__(self, result: CreateResult) -> None:
        self.result = result

    def create_intervention(self, payload: Any, *, priority: str) -> CreateResult:
        return self.result


@pytest.mark.parametrize(
    ("result", "state", "reason"),
    [
        (CreateResult(CreateOutcome.CREATED, "sym_1", "int_1"), LedgerState.PUBLISHED, None),
        (CreateResult(CreateOutcome.ALREADY_EXISTS, "sym_1", "int_1"), LedgerState.PUBLISHED, None),
        (
            CreateResult(CreateOutcome.ALREADY_EXISTS_ID_UNKNOWN, None, "int_1"),
            LedgerState.CONFLICT_UNRESOLVED,
            Reason.CONFLICT_ID_UNKNOWN,
        ),
        # 201 without an id: the partner holds it; never published without its id (the ledger's CHECK).
        (
            CreateResult(CreateOutcome.CREATED, None, "int_1"),
            LedgerState.CONFLICT_UNRESOLVED,
            Reason.CREATED_ID_UNKNOWN,
        ),
    ],
)
def test_each_answer_to_a_create_gives_one_state(
    result: CreateResult, state: LedgerState, reason: Reason | None
) -> None:
    outcome = _create(ROW, _Creates(result), PublishCounts())  # type: ignore[arg-type]
    assert (outcome["state"], outcome["reason"]) == (state.value, None if reason is None else reason.value)


def _outcome_of(error: SymphonicsError | None, state: LedgerState) -> dict[str, Any]:
    return {
        "state": state.value,
        "error_code": None if error is None else "X",
        "http_status": getattr(error, "status", None),
    }


@pytest.mark.parametrize(
    ("outcome", "ends_streak"),
    [
        (_outcome_of(None, LedgerState.PUBLISHED), True),
        (_outcome_of(SymphonicsValidationError("bad", status=422), LedgerState.REJECTED_VALIDATION), True),
        (_outcome_of(SymphonicsNotFound("gone", status=404), LedgerState.DEAD_LETTER), True),
        (_outcome_of(SymphonicsUnavailable("503", status=503), LedgerState.FAILED_RETRYABLE), False),
        (_outcome_of(SymphonicsUnavailable("timeout"), LedgerState.DEAD_LETTER), False),
        (_outcome_of(SymphonicsRateLimited("429", status=429), LedgerState.FAILED_RETRYABLE), False),
        (_outcome_of(None, LedgerState.READY), False),  # nothing was sent
    ],
)
def test_only_an_answer_of_the_partner_ends_a_streak_of_403s(outcome: dict[str, Any], ends_streak: bool) -> None:
    assert _answered(outcome) is ends_streak


def test_the_streak_counts_distinct_resources_and_refuses_the_account_at_its_limit() -> None:
    streak = ForbiddenStreak(3)
    error = SymphonicsForbidden("no", status=403, request_id="req_1")
    forbid: Callable[[str], SymphonicsAuthError | None] = lambda resource: streak.forbidden(resource, error)  # noqa: E731
    assert forbid("int_1") is None
    assert forbid("int_1") is None  # the same resource again is not another one
    assert forbid("int_2") is None
    streak.answered()
    assert forbid("int_3") is None
    assert forbid("int_4") is None
    account = forbid("int_5")
    assert isinstance(account, SymphonicsAuthError)
    assert (account.status, account.request_id) == (403, "req_1")
