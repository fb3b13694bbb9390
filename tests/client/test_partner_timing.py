"""The partner's timing is obeyed (issue 23): a ``Retry-After`` is an uncapped floor of the shared quota, a lower
``X-RateLimit-Limit`` is adopted, a kill switch turned on during a quota wait spends no slot, and a connection
check is one attempt that never waits (issue 25). No server: a scripted transport and a fake clock.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from include.symphonics.client import (
    CallGuard,
    ClassQuota,
    ClientSettings,
    InMemoryQuotaStore,
    KillSwitchOn,
    MemoryCallRecorder,
    QuotaBusy,
    QuotaExhausted,
    SymphonicsAuthError,
    SymphonicsClient,
    SymphonicsUnavailable,
)
from include.symphonics.client.ratelimit import QuotaState
from include.symphonics.core.quota_policy import CHECK_OPERATION

BASE_URL = "https://api.partner.test"
T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
OPEN = {"publish": ClassQuota(1.0), "reconcile": ClassQuota(1.0), "ops": ClassQuota(1.0)}
TOKEN = {"access_token": "tok-123", "token_type": "Bearer", "expires_in": 86_400}
OK = (200, {"id": "sym_1", "status": "processing"}, {})
Reply = tuple[int, dict[str, Any], dict[str, str]] | Exception


class Clock:
    """Epoch seconds that move only when the client sleeps."""

    def __init__(self) -> None:
        self.now = T0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Partner(BaseAdapter):
    """Answers API requests from a script, the token endpoint with a token; keeps the time of every request."""

    def __init__(self, clock: Clock, script: Callable[[int], Reply], token: Reply = (200, TOKEN, {})) -> None:
        super().__init__()
        self.clock, self.script, self.token = clock, script, token
        self.api_times: list[float] = []
        self.token_times: list[float] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if str(request.url).endswith("/auth/token"):
            self.token_times.append(self.clock.now)
            outcome = self.token
        else:
            self.api_times.append(self.clock.now)
            outcome = self.script(len(self.api_times))
        if isinstance(outcome, Exception):
            raise outcome
        status, body, headers = outcome
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(body).encode()
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json", **headers})
        response.url = str(request.url)
        response.request = request
        response.reason = "scripted"
        return response

    def close(self) -> None:
        return None


def _client(
    partner: Partner,
    *,
    store: InMemoryQuotaStore | None = None,
    guard: CallGuard | None = None,
    recorder: MemoryCallRecorder | None = None,
    **settings: Any,
) -> SymphonicsClient:
    session = requests.Session()
    session.mount("https://", partner)
    options: dict[str, Any] = {
        "max_retries": 3,
        "backoff_base": 0.0,
        "priority_classes": OPEN,
        "quota_window_margin": 0.0,
        **settings,
    }
    return SymphonicsClient(
        ClientSettings(BASE_URL, "client-id", "client-secret-value", **options),
        session=session,
        quota_store=store,
        guard=guard,
        recorder=recorder,
        sleep=partner.clock.sleep,
        clock=partner.clock,
    )


def _rate_limited(retry_after: str) -> tuple[int, dict[str, Any], dict[str, str]]:
    # Only Retry-After: no X-RateLimit-* header to learn the wait from.
    return (429, {"error": {"code": "RATE_LIMITED", "message": "Too many requests"}}, {"Retry-After": retry_after})


def _state(store: InMemoryQuotaStore) -> QuotaState:
    return store.transact("client-id", None, lambda state: state)  # type: ignore[arg-type]


# -- Retry-After: a floor with no cap ----------------------------------------------------------------------------


def test_a_long_retry_after_ends_the_call_at_once_with_its_eta_and_binds_every_process() -> None:
    clock = Clock()
    partner = Partner(clock, lambda n: _rate_limited("600") if n == 1 else OK)
    store = InMemoryQuotaStore()
    client = _client(partner, store=store)
    with pytest.raises(QuotaExhausted) as ended:
        client.get_intervention("sym_1")
    # One request: no retry into the floor, and no long sleep (the run ends, the rest deferred to the ETA).
    assert partner.api_times == [T0]
    assert sum(clock.sleeps) < 1.0
    assert ended.value.nothing_sent
    assert ended.value.resets_at == pytest.approx(T0 + 600, abs=1.0)
    assert "600 s" in str(ended.value)
    # Another process sharing the quota is held by the same floor: nothing leaves before it.
    other = _client(Partner(clock, lambda _n: OK), store=store)
    with pytest.raises(QuotaExhausted):
        other.get_intervention("sym_1")
    clock.now = T0 + 601
    other.get_intervention("sym_1")
    assert _state(store).server_reset_at is None


def test_a_retry_after_within_the_max_wait_is_waited_out_in_full_not_cut() -> None:
    clock = Clock()
    partner = Partner(clock, lambda n: _rate_limited("45") if n == 1 else OK)
    client = _client(partner, max_quota_wait=60.0)
    client.get_intervention("sym_1")
    first, second = partner.api_times
    assert second - first >= 45.0  # the whole Retry-After, once (the quota's floor), not twice


def test_the_max_quota_wait_setting_decides_between_waiting_and_ending() -> None:
    clock = Clock()
    partner = Partner(clock, lambda n: _rate_limited("90") if n == 1 else OK)
    client = _client(partner, max_quota_wait=120.0)
    client.get_intervention("sym_1")
    assert partner.api_times[1] - partner.api_times[0] >= 90.0


def test_a_retry_after_on_a_503_is_a_floor_too() -> None:
    clock = Clock()
    unavailable = (503, {"error": {"code": "SERVER_ERROR", "message": "down"}}, {"Retry-After": "20"})
    partner = Partner(clock, lambda n: unavailable if n == 1 else OK)
    client = _client(partner)
    client.get_intervention("sym_1")
    assert partner.api_times[1] - partner.api_times[0] >= 20.0


# -- X-RateLimit-Limit lower than configured is adopted ----------------------------------------------------------


def _limited_ok(
    limit: int, remaining: int, reset_in: float, clock: Clock
) -> tuple[int, dict[str, Any], dict[str, str]]:
    headers = {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": str(int(clock.now + reset_in)),
    }
    return (200, OK[1], headers)


def test_a_lower_minute_limit_is_adopted_logged_once_and_obeyed(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    # The partner grants 3 a minute (configured: 100) and says so on every reply, but not Remaining's truth.
    partner = Partner(clock, lambda _n: _limited_ok(3, 50, 60 - (clock.now - T0) % 60, clock))
    store = InMemoryQuotaStore()
    client = _client(partner, store=store, requests_per_minute=100)
    with caplog.at_level(logging.WARNING, logger="include.symphonics.client.ratelimit"):
        for _ in range(4):
            client.get_intervention("sym_1")
    assert _state(store).partner_per_minute == 3
    assert _state(store).partner_per_day is None
    adopted = [r for r in caplog.records if "lower than the configured" in r.getMessage()]
    assert len(adopted) == 1
    assert "per-minute limit of 3" in adopted[0].getMessage()
    # The token and the first two GETs fill the minute of 3; the next waits for the window.
    times = sorted(partner.token_times + partner.api_times)
    assert times[3] - times[0] >= 60.0
    assert all(later - earlier >= 60.0 for earlier, later in zip(times, times[3:], strict=False))


def test_a_limit_whose_reset_is_far_is_the_days_and_a_higher_one_gives_the_configured_back() -> None:
    clock = Clock()
    limit = {"value": 1000}
    partner = Partner(clock, lambda _n: _limited_ok(limit["value"], 900, 3600, clock))
    store = InMemoryQuotaStore()
    client = _client(partner, store=store, requests_per_day=5000)
    client.get_intervention("sym_1")
    assert (_state(store).partner_per_day, _state(store).partner_per_minute) == (1000, None)
    limit["value"] = 5000
    client.get_intervention("sym_1")
    assert _state(store).partner_per_day is None


def test_a_429s_limit_is_not_adopted() -> None:
    clock = Clock()
    storm = (429, {}, {"Retry-After": "1", "X-RateLimit-Limit": "100", "X-RateLimit-Reset": str(int(T0 + 600))})
    partner = Partner(clock, lambda n: storm if n == 1 else OK)
    store = InMemoryQuotaStore()
    client = _client(partner, store=store, requests_per_day=5000, max_quota_wait=1000)
    client.get_intervention("sym_1")
    assert _state(store).partner_per_day is None


# -- the kill switch's last check comes before the slot (issue 23 point 6) -------------------------------------


def test_a_switch_turned_on_during_the_quota_wait_takes_no_slot() -> None:
    clock = Clock()
    switch = {"on": False}

    def sleep_then_switch_on(seconds: float) -> None:
        clock.sleep(seconds)
        switch["on"] = True

    partner = Partner(clock, lambda _n: OK)
    store = InMemoryQuotaStore()
    session = requests.Session()
    session.mount("https://", partner)
    client = SymphonicsClient(
        ClientSettings(BASE_URL, "client-id", "secret-value", requests_per_minute=2, priority_classes=OPEN),
        session=session,
        quota_store=store,
        guard=CallGuard(lambda: switch["on"], kill_switch_ttl=0.0),
        sleep=sleep_then_switch_on,
        clock=clock,
    )
    client.get_intervention("sym_1")  # token + GET: the minute's two slots
    with pytest.raises(KillSwitchOn):
        client.get_intervention("sym_1")  # waits for a slot; the switch goes on meanwhile
    assert len(partner.api_times) == 1
    assert _state(store).day_used == 2  # no slot spent on the request that never left


# -- a connection check: one attempt, no wait (issue 25 point 4) -------------------------------------------------


def test_a_check_is_one_attempt_recorded_as_an_ops_check() -> None:
    clock, recorder = Clock(), MemoryCallRecorder()
    partner = Partner(clock, lambda _n: OK, token=(401, {"error": "invalid_client"}, {}))
    client = _client(partner, recorder=recorder, max_retries=5)
    with pytest.raises(SymphonicsAuthError):
        client.check_credentials()
    partner.token = (503, {"error": {"code": "SERVER_ERROR", "message": "down"}}, {})
    with pytest.raises(SymphonicsUnavailable):
        client.check_credentials()
    partner.token = requests.ConnectionError("unreachable")
    with pytest.raises(SymphonicsUnavailable):
        client.check_credentials()
    assert len(partner.token_times) == 3  # one request each: no retry
    assert clock.sleeps == []
    assert [(c.operation, c.priority_class, c.attempt) for c in recorder.calls] == [(CHECK_OPERATION, "ops", 1)] * 3
    assert client.breaker.state == "closed"  # a check is no evidence about the partner


def test_a_check_with_the_minute_full_answers_quota_busy_and_sends_nothing() -> None:
    clock = Clock()
    partner = Partner(clock, lambda _n: OK)
    client = _client(partner, requests_per_minute=2)
    client.get_intervention("sym_1")  # token + GET fill the minute
    clock.now += 10
    with pytest.raises(QuotaBusy) as busy:
        client.check_credentials()
    assert str(busy.value).startswith("Symphonics quota busy for 50 s")
    assert busy.value.nothing_sent
    assert busy.value.wait == pytest.approx(50.0)
    assert len(partner.token_times) == 1
    assert clock.sleeps == []


def test_a_check_during_a_far_partner_floor_answers_quota_busy_not_exhausted() -> None:
    clock = Clock()
    partner = Partner(clock, lambda _n: _rate_limited("600"))
    client = _client(partner)
    with pytest.raises(QuotaExhausted):
        client.get_intervention("sym_1")
    with pytest.raises(QuotaBusy) as busy:
        client.check_credentials()
    assert busy.value.wait == pytest.approx(600.0, abs=1.0)
    assert len(partner.token_times) == 1  # the run's token only
