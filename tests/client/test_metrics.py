"""The client's metrics sink: names hold every dimension; the breaker reports each change of state."""

from __future__ import annotations

import pytest

from include.symphonics.client import SymphonicsBreaker, SymphonicsUnavailable
from include.symphonics.client.ratelimit import QuotaLimiter
from include.symphonics.core.metrics import name, part
from include.symphonics.core.quota_policy import PUBLISH, QuotaPolicy


def test_names_hold_only_bounded_safe_parts() -> None:
    assert (
        name("partner", "requests", "create_intervention", 201) == "symphonics.partner.requests.create_intervention.201"
    )
    assert part("half-open") == "half_open"
    assert part("Bad Signature!") == "bad_signature"
    assert part("") == "unknown"


def test_the_breaker_tells_its_owner_when_it_opens() -> None:
    changes: list[tuple[str, str]] = []
    breaker = SymphonicsBreaker(
        failure_threshold=2, reset_timeout=60, on_state_change=lambda a, b: changes.append((a, b))
    )

    def down() -> None:
        raise SymphonicsUnavailable("partner down")

    for _ in range(2):
        with pytest.raises(SymphonicsUnavailable):
            breaker.call(down)
    assert changes == [("closed", "open")]
    breaker.reset()
    assert changes == [("closed", "open"), ("open", "closed")]


def test_the_quota_reports_what_the_class_may_still_send_today() -> None:
    left: list[tuple[str, int]] = []
    limiter = QuotaLimiter(
        "client",
        QuotaPolicy(requests_per_minute=1000, requests_per_day=100),
        clock=lambda: 1_000_000.0,
        on_class_left=lambda priority, count: left.append((priority, count)),
    )
    cap = limiter.policy.class_cap(PUBLISH)
    limiter.acquire(PUBLISH)
    limiter.acquire(PUBLISH)
    assert left == [(PUBLISH, cap - 1), (PUBLISH, cap - 2)]
