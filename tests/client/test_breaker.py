"""The circuit breaker: opens after consecutive unavailability, fails fast, half-opens after its cool-down."""

from __future__ import annotations

import time

import pytest

from include.symphonics.client.breaker import SymphonicsBreaker
from include.symphonics.client.errors import SymphonicsNotFound, SymphonicsUnavailable


def _down() -> None:
    raise SymphonicsUnavailable("down", status=503)


def test_opens_after_consecutive_failures_then_fails_fast() -> None:
    breaker = SymphonicsBreaker(failure_threshold=3, reset_timeout=60)
    for _ in range(3):
        with pytest.raises(SymphonicsUnavailable, match="down"):
            breaker.call(_down)
    assert breaker.state == "open"
    called = False

    def should_not_run() -> None:
        nonlocal called
        called = True

    with pytest.raises(SymphonicsUnavailable, match="circuit breaker is open"):
        breaker.call(should_not_run)
    assert not called


def test_business_errors_do_not_count() -> None:
    breaker = SymphonicsBreaker(failure_threshold=2, reset_timeout=60)

    def missing() -> None:
        raise SymphonicsNotFound("nope", status=404)

    for _ in range(5):
        with pytest.raises(SymphonicsNotFound):
            breaker.call(missing)
    assert breaker.state == "closed"


def test_half_opens_after_the_cool_down_and_closes_on_success() -> None:
    breaker = SymphonicsBreaker(failure_threshold=1, reset_timeout=0.05)
    with pytest.raises(SymphonicsUnavailable):
        breaker.call(_down)
    assert breaker.state == "open"
    time.sleep(0.06)
    assert breaker.call(lambda: "ok") == "ok"
    assert breaker.state == "closed"
