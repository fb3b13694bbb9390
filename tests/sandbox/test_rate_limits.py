"""Rate limits: headers on every authenticated response, 429 with Retry-After, minute and day windows."""

from __future__ import annotations

import time

import pytest

from include.symphonics_sandbox.ratelimit import FixedWindowLimiter
from tests.fixtures.sandbox import SandboxAdmin
from tests.sandbox.partner import PartnerCaller, assert_error

pytestmark = pytest.mark.integration  # a real sandbox over loopback

PDL_PATH = "/validation/pdl/12345678901234"


def test_headers_on_every_authenticated_response(sandbox: SandboxAdmin, partner: PartnerCaller) -> None:
    for response in (
        partner.get(PDL_PATH),
        partner.get("/validation/pdl/1"),
        partner.get("/crm/interventions/sym_00000000"),
        partner.post("/crm/interventions", json={}),
    ):
        assert response.headers["X-RateLimit-Limit"] == "100"
        assert int(response.headers["X-RateLimit-Remaining"]) < 100
        assert int(response.headers["X-RateLimit-Reset"]) >= int(time.time())
        assert "Date" in response.headers


def test_token_requests_count_by_default(sandbox: SandboxAdmin) -> None:
    sandbox.token()
    partner = PartnerCaller(sandbox)  # a second token request
    assert partner.get(PDL_PATH).headers["X-RateLimit-Remaining"] == "97"


def test_token_requests_can_be_left_uncounted(sandbox: SandboxAdmin) -> None:
    sandbox.configure(count_token_requests=False)
    partner = PartnerCaller(sandbox)
    assert partner.get(PDL_PATH).headers["X-RateLimit-Remaining"] == "99"


def test_minute_limit_then_429_with_retry_after(sandbox: SandboxAdmin) -> None:
    sandbox.configure(rate_limit_per_minute=5, count_token_requests=False)
    partner = PartnerCaller(sandbox)
    remaining = [partner.get(PDL_PATH).headers["X-RateLimit-Remaining"] for _ in range(5)]
    assert remaining == ["4", "3", "2", "1", "0"]
    refused = partner.get(PDL_PATH)
    assert_error(refused, 429, "RATE_LIMITED")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert [c["status"] for c in sandbox.calls(PDL_PATH)] == [200] * 5 + [429]


def test_living_through_a_day(sandbox: SandboxAdmin) -> None:
    # time_scale 28800: a minute lasts 2.1 ms and a day 3 s of real time.
    sandbox.configure(rate_limit_per_minute=1000, rate_limit_per_day=6, count_token_requests=False, time_scale=28800)
    partner = PartnerCaller(sandbox)
    # Start at the beginning of a sandbox day, so the six requests fit in it.
    day = 86400 / 28800
    time.sleep(day - (time.time() % day) + 0.05)
    statuses = [partner.get(PDL_PATH).status_code for _ in range(7)]
    assert statuses == [200] * 6 + [429]
    refused = partner.get(PDL_PATH)
    assert refused.headers["X-RateLimit-Limit"] == "6"  # the exhausted window is the day's
    assert 1 <= int(refused.headers["Retry-After"]) <= 4
    # The next sandbox day starts within Retry-After seconds, and with it a fresh quota.
    sandbox.wait_for(lambda: partner.get(PDL_PATH).status_code == 200, timeout=10, interval=0.2)


def test_limiter_describes_the_tighter_window() -> None:
    limiter = FixedWindowLimiter()
    now = 1_000_000.0
    first = limiter.hit("c", per_minute=3, per_day=100, time_scale=1, now=now)
    assert (first.limit, first.remaining) == (3, 2)
    tight_day = limiter.hit("d", per_minute=100, per_day=2, time_scale=1, now=now)
    assert (tight_day.limit, tight_day.remaining) == (2, 1)
    for _ in range(2):
        limiter.hit("c", per_minute=3, per_day=100, time_scale=1, now=now)
    refused = limiter.hit("c", per_minute=3, per_day=100, time_scale=1, now=now + 1)
    assert not refused.allowed
    assert refused.retry_after == 60 - (now + 1) % 60
    later = limiter.hit("c", per_minute=3, per_day=100, time_scale=1, now=now + 60)
    assert later.allowed
    assert later.remaining == 2


def test_limiter_windows_shrink_with_time_scale() -> None:
    limiter = FixedWindowLimiter()
    now = 2_000_000.0
    decision = limiter.hit("c", per_minute=1, per_day=10, time_scale=60, now=now)
    assert decision.reset_at - now <= 1.0
    refused = limiter.hit("c", per_minute=1, per_day=10, time_scale=60, now=now)
    assert refused.retry_after == 1
    assert limiter.hit("c", per_minute=1, per_day=10, time_scale=60, now=now + 1).allowed


def test_limits_are_per_client(sandbox: SandboxAdmin) -> None:
    sandbox.configure(
        count_token_requests=False,
        clients=[
            {"client_id": "wfa-sandbox-demo", "client_secret": "sandbox-demo-secret-not-for-production"},
            {"client_id": "slow", "client_secret": "slow-secret", "rate_limit_per_minute": 1},
        ],
    )
    slow = {"Authorization": f"Bearer {sandbox.token('slow', 'slow-secret')}"}
    partner = PartnerCaller(sandbox)
    assert partner.http.get(sandbox.url + PDL_PATH, headers=slow, timeout=5).status_code == 200
    assert partner.http.get(sandbox.url + PDL_PATH, headers=slow, timeout=5).status_code == 429
    assert partner.get(PDL_PATH).status_code == 200
