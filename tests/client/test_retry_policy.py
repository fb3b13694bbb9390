"""The retry policy: what is retried, how long it waits, how often it tries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from include.symphonics.client.errors import (
    SymphonicsNotFound,
    SymphonicsRateLimited,
    SymphonicsUnavailable,
    SymphonicsValidationError,
)
from include.symphonics.client.retry import RetryPolicy, parse_retry_after


def test_retry_after_in_seconds() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 0 ") == 0.0


def test_retry_after_as_http_date() -> None:
    now = 1_700_000_000.0
    header = format_datetime(datetime.fromtimestamp(now + 30, tz=UTC), usegmt=True)
    assert parse_retry_after(header, now=now) == pytest.approx(30.0)


def test_retry_after_in_the_past_or_unreadable() -> None:
    now = 1_700_000_000.0
    past = format_datetime(datetime.fromtimestamp(now - 30, tz=UTC), usegmt=True)
    assert parse_retry_after(past, now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("-5") == 0.0


def test_retry_after_is_left_to_the_quota_floor_never_cut() -> None:
    # Was test_retry_after_is_honoured_up_to_the_cap (issue 23: no cap). The client makes a Retry-After a floor
    # of the shared quota, which holds the next attempt (or ends the run when too far): the retry adds jitter only.
    policy = RetryPolicy(jitter=0.0, base_delay=1.0)
    limited = SymphonicsRateLimited("slow down", status=429)
    limited.retry_after = 3600.0
    assert policy.wait_for(limited, 1) == 0.0
    limited.retry_after = None
    assert policy.wait_for(limited, 1) == 1.0  # no Retry-After: the exponential backoff


def test_backoff_is_exponential_and_capped() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=5.0, jitter=0.0)
    assert [policy.backoff(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_jitter_stays_within_its_bound() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=5.0, jitter=0.5)
    waits = [policy.backoff(1) for _ in range(200)]
    assert all(1.0 <= wait <= 1.5 for wait in waits)
    assert len(set(waits)) > 1


def _loop(policy: RetryPolicy, attempt_once: Callable[[], None]) -> None:
    for attempt in policy.retrying(sleep=lambda _s: None):
        with attempt:
            attempt_once()


def _run(policy: RetryPolicy, failures: list[Exception]) -> tuple[int, list[float]]:
    attempts = 0
    sleeps: list[float] = []

    def attempt_once() -> str:
        nonlocal attempts
        attempts += 1
        if failures:
            raise failures.pop(0)
        return "ok"

    for attempt in policy.retrying(sleep=sleeps.append):
        with attempt:
            attempt_once()
    return attempts, sleeps


def test_exactly_one_plus_max_retries_attempts_then_the_typed_error() -> None:
    policy = RetryPolicy(max_retries=3, base_delay=0.01, jitter=0.0)
    with pytest.raises(SymphonicsUnavailable):
        _run(policy, [SymphonicsUnavailable("down", status=503) for _ in range(10)])
    attempts = 0

    def count() -> None:
        nonlocal attempts
        attempts += 1
        raise SymphonicsRateLimited("busy", status=429)

    with pytest.raises(SymphonicsRateLimited):
        _loop(policy, count)
    assert attempts == 4


@pytest.mark.parametrize("error", [SymphonicsValidationError("bad", status=400), SymphonicsNotFound("no", status=404)])
def test_other_4xx_are_never_retried(error: Exception) -> None:
    attempts = 0

    def fail() -> None:
        nonlocal attempts
        attempts += 1
        raise error

    with pytest.raises(type(error)):
        _loop(RetryPolicy(base_delay=0.01), fail)
    assert attempts == 1


def test_a_transient_failure_then_success() -> None:
    attempts, sleeps = _run(RetryPolicy(base_delay=0.01, jitter=0.0), [SymphonicsUnavailable("blip", status=502)])
    assert attempts == 2
    assert sleeps == [0.01]


def test_negative_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="max_retries"):
        RetryPolicy(max_retries=-1)
