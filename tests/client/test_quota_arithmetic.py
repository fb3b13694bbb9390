"""The quota's decisions, with a fake clock: minute window, day window, priority classes, the partner's floor."""

from __future__ import annotations

import pytest

from include.symphonics.client.errors import QuotaExhausted
from include.symphonics.client.ratelimit import QuotaLimiter, QuotaState, decide, observe_server
from include.symphonics.core.quota_policy import DAY, ClassQuota, QuotaPolicy

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z, a day boundary


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _policy(**changes: object) -> QuotaPolicy:
    base: dict[str, object] = {
        "requests_per_minute": 3,
        "requests_per_day": 10,
        "classes": {"publish": ClassQuota(1.0), "reconcile": ClassQuota(1.0), "ops": ClassQuota(1.0)},
        "window_margin": 0.0,
    }
    base.update(changes)
    return QuotaPolicy(**base)  # type: ignore[arg-type]


def test_minute_window_waits_for_the_oldest_send_to_leave() -> None:
    policy, state = _policy(), QuotaState()
    for offset in (0.0, 1.0, 2.0):
        assert decide(policy, state, "publish", T0 + offset).granted
    refused = decide(policy, state, "publish", T0 + 3.0)
    assert not refused.granted
    assert refused.exhausted is None
    assert refused.wait == pytest.approx(57.0)
    assert decide(policy, state, "publish", T0 + 60.001).granted


def test_window_margin_lengthens_the_window() -> None:
    policy, state = _policy(window_margin=0.5), QuotaState()
    for _ in range(3):
        assert decide(policy, state, "publish", T0).granted
    assert decide(policy, state, "publish", T0 + 60.2).wait == pytest.approx(0.3)


def test_day_limit_raises_at_once_and_resets_at_the_boundary() -> None:
    policy, state = _policy(requests_per_minute=100), QuotaState()
    for i in range(10):
        assert decide(policy, state, "publish", T0 + i).granted
    spent = decide(policy, state, "publish", T0 + 100)
    assert spent.exhausted is not None
    assert spent.resets_at == T0 + DAY
    assert decide(policy, state, "publish", T0 + DAY).granted
    assert state.day_used == 1


def test_day_boundary_is_configurable() -> None:
    policy = _policy(day_reset_utc=6 * 3600.0)
    assert policy.day_start(T0 + 5 * 3600) == T0 + 6 * 3600 - DAY
    assert policy.day_start(T0 + 7 * 3600) == T0 + 6 * 3600


def test_time_scale_shortens_the_windows() -> None:
    policy, state = _policy(time_scale=60.0), QuotaState()
    for _ in range(3):
        assert decide(policy, state, "publish", T0).granted
    assert decide(policy, state, "publish", T0 + 0.5).wait == pytest.approx(0.5)


def test_a_class_stops_at_its_share_while_another_goes_on() -> None:
    policy = _policy(
        requests_per_minute=100,
        classes={"publish": ClassQuota(share=0.3), "reconcile": ClassQuota(share=1.0), "ops": ClassQuota()},
    )
    state = QuotaState()
    assert [decide(policy, state, "publish", T0).granted for _ in range(3)] == [True, True, True]
    assert decide(policy, state, "publish", T0).exhausted is not None
    assert decide(policy, state, "reconcile", T0).granted


def test_a_reserve_is_kept_for_its_class() -> None:
    policy = _policy(
        requests_per_minute=100,
        classes={"publish": ClassQuota(), "reconcile": ClassQuota(), "ops": ClassQuota(reserve=0.2)},
    )
    state = QuotaState()
    granted = sum(decide(policy, state, "publish", T0).granted for _ in range(10))
    assert granted == 8
    assert decide(policy, state, "ops", T0).granted
    assert decide(policy, state, "ops", T0).granted
    assert decide(policy, state, "ops", T0).exhausted is not None


def test_server_floor_only_tightens() -> None:
    state = QuotaState()
    assert observe_server(state, remaining=5, reset_at=T0 + 30, now=T0)
    # A reply sent earlier, arriving late, says more are left: ignored.
    assert not observe_server(state, remaining=9, reset_at=T0 + 30, now=T0 + 1)
    assert state.server_remaining == 5
    assert observe_server(state, remaining=2, reset_at=T0 + 30, now=T0 + 1)
    assert state.server_remaining == 2
    # Stale: its window is over.
    assert not observe_server(state, remaining=0, reset_at=T0 - 1, now=T0 + 1)


def test_server_floor_makes_callers_wait_until_its_reset() -> None:
    policy, state = _policy(requests_per_minute=100), QuotaState()
    observe_server(state, remaining=1, reset_at=T0 + 20, now=T0)
    assert decide(policy, state, "publish", T0).granted
    refused = decide(policy, state, "publish", T0 + 1)
    assert refused.wait == pytest.approx(19.0)
    assert decide(policy, state, "publish", T0 + 20).granted


def test_server_floor_far_away_is_exhaustion_not_a_long_sleep() -> None:
    policy, state = _policy(requests_per_minute=100), QuotaState()
    observe_server(state, remaining=0, reset_at=T0 + 3600, now=T0)
    assert decide(policy, state, "publish", T0).exhausted is not None


def test_limiter_sleeps_its_turn_then_raises_quota_exhausted() -> None:
    clock = FakeClock(T0)
    limiter = QuotaLimiter("client", _policy(requests_per_day=4), clock=clock, sleep=clock.sleep)
    for _ in range(3):
        assert limiter.acquire("publish") == 0.0
    waited = limiter.acquire("publish")
    assert waited >= 60.0
    with pytest.raises(QuotaExhausted) as raised:
        limiter.acquire("publish")
    assert raised.value.priority == "publish"
    assert len(clock.sleeps) == 1


def test_unknown_priority_is_refused() -> None:
    limiter = QuotaLimiter("client", _policy())
    with pytest.raises(ValueError, match="unknown priority"):
        limiter.acquire("urgent")


def test_policy_validation() -> None:
    with pytest.raises(ValueError, match="reserves"):
        QuotaPolicy(classes={"publish": ClassQuota(reserve=0.6), "ops": ClassQuota(reserve=0.6)})
    with pytest.raises(ValueError, match="unknown priority"):
        QuotaPolicy(classes={"bulk": ClassQuota()})
