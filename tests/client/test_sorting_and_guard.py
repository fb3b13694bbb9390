"""The client sorts every failure once, and its guard refuses calls before anything is sent (no server).

The client runs its real pipeline (breaker, retries, token, guard, quota, call log) over a ``requests`` session
whose transport is a script: each test says what the partner answers and reads what was sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from include.symphonics.client import (
    BreakerOpen,
    CallBudgetSpent,
    CallGuard,
    ClassQuota,
    ClientSettings,
    CreateOutcome,
    KillSwitchOn,
    MemoryCallRecorder,
    QuotaExhausted,
    RunBudget,
    SymphonicsAuthError,
    SymphonicsClient,
    SymphonicsConflict,
    SymphonicsError,
    SymphonicsForbidden,
    SymphonicsNotFound,
    SymphonicsRateLimited,
    SymphonicsUnavailable,
    SymphonicsValidationError,
)

BASE_URL = "https://api.partner.test"
MAX_RETRIES = 2
Answer = tuple[int, dict[str, Any]] | Exception


class ScriptedPartner(BaseAdapter):
    """A transport that answers from a script instead of the network, and keeps every request sent.

    :param answer: gives the answer to one API request (``(status, body)`` or an exception to raise); the token
        endpoint answers with a token unless ``token_answer`` says otherwise.
    """

    def __init__(self, answer: Callable[[requests.PreparedRequest], Answer]) -> None:
        super().__init__()
        self.answer = answer
        self.token_answer: Answer = (200, {"access_token": "tok-123", "token_type": "Bearer", "expires_in": 3600})
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.sent.append(request)
        outcome = self.token_answer if str(request.url).endswith("/auth/token") else self.answer(request)
        if isinstance(outcome, Exception):
            raise outcome
        status, body = outcome
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(body).encode()
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json", "X-Request-Id": "req_1"})
        response.url = str(request.url)
        response.request = request
        response.reason = "scripted"
        return response

    def close(self) -> None:
        return None

    def paths(self) -> list[str]:
        """``METHOD /path`` of every request sent, in order."""
        return [f"{r.method} {requests.utils.urlparse(str(r.url)).path}" for r in self.sent]


def _client(
    partner: ScriptedPartner,
    *,
    guard: CallGuard | None = None,
    recorder: MemoryCallRecorder | None = None,
    **settings: Any,
) -> SymphonicsClient:
    session = requests.Session()
    session.mount("https://", partner)
    options: dict[str, Any] = {"max_retries": MAX_RETRIES, "backoff_base": 0.0, "breaker_failures": 3, **settings}
    return SymphonicsClient(
        ClientSettings(BASE_URL, "client-id", "client-secret-value", **options),
        session=session,
        guard=guard,
        recorder=recorder,
        sleep=lambda _seconds: None,
    )


def _always(answer: Answer) -> Callable[[requests.PreparedRequest], Answer]:
    return lambda _request: answer


def _error(code: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": "scripted failure", "request_id": "req_abc"}}


# -- every documented status -----------------------------------------------------------------------------------

#: status -> (error type, retryable, GETs sent for one call)
DOCUMENTED = {
    400: (SymphonicsValidationError, False, 1),
    401: (SymphonicsAuthError, False, 2),  # renewed once, sent once more
    403: (SymphonicsForbidden, False, 1),  # one resource refused; the caller counts a streak of them
    404: (SymphonicsNotFound, False, 1),
    409: (SymphonicsConflict, False, 1),
    422: (SymphonicsValidationError, False, 1),
    429: (SymphonicsRateLimited, True, 1 + MAX_RETRIES),
    500: (SymphonicsUnavailable, True, 1 + MAX_RETRIES),
    502: (SymphonicsUnavailable, True, 1 + MAX_RETRIES),
    503: (SymphonicsUnavailable, True, 1 + MAX_RETRIES),
}


@pytest.mark.parametrize("status", sorted(DOCUMENTED))
def test_every_documented_status_is_sorted_once(status: int) -> None:
    error_type, retryable, gets = DOCUMENTED[status]
    partner = ScriptedPartner(_always((status, _error(f"E{status}"))))
    client = _client(partner)
    with pytest.raises(error_type) as raised:
        client.get_intervention("sym_1")
    error = raised.value
    assert type(error) is error_type
    assert error.status == status
    assert error.retryable is retryable
    assert error.nothing_sent is False  # the partner got it and answered
    assert error.refusal is None
    assert error.code == f"E{status}"
    assert error.request_id == "req_abc"
    assert partner.paths().count("GET /crm/interventions/sym_1") == gets


@pytest.mark.parametrize(
    ("call", "status", "check"),
    [
        (lambda c: c.validate_pdl("45678901234567"), 400, lambda r: r.valid is False),
        (lambda c: c.validate_user("nobody@example.com"), 404, lambda r: r.exists is False),
        (
            lambda c: c.lookup_pdl({"street": "1 rue", "postal_code": "75001", "city": "Paris"}, "X"),
            404,
            lambda r: not r.found,
        ),
        (
            lambda c: c.create_intervention({"external_id": "int_1"}),
            409,
            lambda r: r.outcome is CreateOutcome.ALREADY_EXISTS_ID_UNKNOWN,
        ),
    ],
)
def test_the_documented_no_answers_are_results_not_errors(call: Any, status: int, check: Any) -> None:
    partner = ScriptedPartner(_always((status, {"valid": False, "exists": False, "message": "no"})))
    assert check(call(_client(partner)))


@pytest.mark.parametrize("failure", [requests.ConnectionError("refused"), requests.Timeout("slow")])
def test_no_reply_is_retryable_and_may_have_arrived(failure: Exception) -> None:
    partner = ScriptedPartner(_always(failure))
    with pytest.raises(SymphonicsUnavailable) as raised:
        _client(partner).create_intervention({"external_id": "int_1"})
    assert raised.value.status is None
    assert raised.value.retryable is True
    assert raised.value.nothing_sent is False  # a lost reply does not prove the create did not arrive
    assert partner.paths().count("POST /crm/interventions") == 1 + MAX_RETRIES


def test_an_open_breaker_refuses_before_sending() -> None:
    partner = ScriptedPartner(_always((503, _error("SERVER_ERROR"))))
    client = _client(partner, breaker_failures=1)
    with pytest.raises(SymphonicsUnavailable):
        client.get_intervention("sym_1")
    sent = len(partner.sent)
    with pytest.raises(BreakerOpen) as raised:
        client.get_intervention("sym_1")
    assert isinstance(raised.value, SymphonicsUnavailable)
    assert raised.value.nothing_sent is True
    assert raised.value.retryable is True
    assert raised.value.refusal == "unavailable"
    assert len(partner.sent) == sent


def test_a_spent_quota_refuses_before_sending() -> None:
    partner = ScriptedPartner(_always((200, {"id": "sym_1", "status": "processing"})))
    classes = {"publish": ClassQuota(1.0), "reconcile": ClassQuota(1.0), "ops": ClassQuota(1.0)}
    client = _client(partner, requests_per_day=2, priority_classes=classes)
    client.get_intervention("sym_1")  # the token request and the GET: the day is spent
    with pytest.raises(QuotaExhausted) as raised:
        client.get_intervention("sym_1")
    error = raised.value
    assert (error.nothing_sent, error.retryable, error.refusal) == (True, True, "quota")
    assert error.daily_cap == 2
    assert error.resets_at is not None
    assert partner.paths() == ["POST /auth/token", "GET /crm/interventions/sym_1"]


def test_refused_credentials_are_an_auth_error_that_reached_the_partner() -> None:
    partner = ScriptedPartner(_always((200, {})))
    partner.token_answer = (401, _error("UNAUTHORIZED"))
    with pytest.raises(SymphonicsAuthError) as raised:
        _client(partner).validate_pdl("12345678901234")
    assert (raised.value.retryable, raised.value.nothing_sent) == (False, False)
    assert partner.paths() == ["POST /auth/token"]


# -- the guard ---------------------------------------------------------------------------------------------------


class Switch:
    """A kill switch whose readings are counted."""

    def __init__(self, on: bool = False) -> None:
        self.on = on
        self.reads = 0

    def __call__(self) -> bool:
        self.reads += 1
        return self.on


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _ok_partner() -> ScriptedPartner:
    return ScriptedPartner(_always((200, {"id": "sym_1", "status": "processing", "valid": True})))


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.validate_pdl("12345678901234"),
        lambda c: c.create_intervention({"external_id": "int_1"}),
        lambda c: c.get_intervention("sym_1"),
        lambda c: c.check_credentials(),
    ],
)
def test_the_kill_switch_refuses_every_call_token_requests_included(call: Any) -> None:
    partner, recorder = _ok_partner(), MemoryCallRecorder()
    client = _client(partner, guard=CallGuard(Switch(on=True)), recorder=recorder)
    with pytest.raises(KillSwitchOn) as raised:
        call(client)
    assert (raised.value.nothing_sent, raised.value.refusal) == (True, "kill_switch")
    assert partner.sent == []
    assert recorder.calls == []
    assert client.breaker.state == "closed"  # a refusal says nothing about the partner's health


def test_the_kill_switch_is_read_at_call_time_and_trusted_at_most_its_ttl() -> None:
    switch, clock, partner = Switch(), Clock(), _ok_partner()
    client = _client(partner, guard=CallGuard(switch, kill_switch_ttl=5.0, clock=clock))
    client.get_intervention("sym_1")
    client.get_intervention("sym_1")
    assert switch.reads == 1  # three requests, one reading
    switch.on = True
    clock.now += 4.9
    client.get_intervention("sym_1")  # still within the reading's ttl
    clock.now += 0.2
    with pytest.raises(KillSwitchOn):
        client.get_intervention("sym_1")
    assert partner.paths().count("GET /crm/interventions/sym_1") == 3
    switch.on = False
    clock.now += 5.1
    client.get_intervention("sym_1")
    assert partner.paths().count("GET /crm/interventions/sym_1") == 4


def test_a_switch_turned_on_between_retries_stops_the_next_attempt() -> None:
    switch = Switch()

    def fail_then_switch_on(_request: requests.PreparedRequest) -> Answer:
        switch.on = True
        return (503, _error("SERVER_ERROR"))

    partner = ScriptedPartner(fail_then_switch_on)
    client = _client(partner, guard=CallGuard(switch, kill_switch_ttl=0.0))
    with pytest.raises(KillSwitchOn):
        client.create_intervention({"external_id": "int_1"})
    assert partner.paths() == ["POST /auth/token", "POST /crm/interventions"]


def test_the_budget_counts_every_request_from_what_the_run_spent_before() -> None:
    reads: list[int] = []

    def spent_before() -> int:
        reads.append(1)
        return 2

    budget = RunBudget(5, spent_before=spent_before)
    guard = CallGuard(budget=budget)
    partner = ScriptedPartner(_always((200, {"id": "sym_1", "status": "processing"})))
    client = _client(partner, guard=guard)
    client.get_intervention("sym_1")  # token + GET: 4 of 5
    client.get_intervention("sym_1")  # 5 of 5
    with pytest.raises(CallBudgetSpent) as raised:
        client.get_intervention("sym_1")
    assert (raised.value.nothing_sent, raised.value.refusal, raised.value.budget) == (True, "budget", 5)
    assert len(partner.sent) == 3
    assert (budget.spent, guard.admitted, guard.refused) == (5, 3, {"budget": 1})
    assert len(reads) == 1  # the call log is read once, the rest is counted here


def test_the_budget_counts_retries_and_stops_them() -> None:
    partner = ScriptedPartner(_always((503, _error("SERVER_ERROR"))))
    client = _client(partner, guard=CallGuard(budget=RunBudget(3)), max_retries=5)
    with pytest.raises(CallBudgetSpent):
        client.get_intervention("sym_1")
    assert partner.paths() == ["POST /auth/token", "GET /crm/interventions/sym_1", "GET /crm/interventions/sym_1"]


def test_a_refused_call_takes_no_quota_slot() -> None:
    partner = _ok_partner()
    switch = Switch(on=True)
    classes = {"publish": ClassQuota(1.0), "reconcile": ClassQuota(1.0), "ops": ClassQuota(1.0)}
    client = _client(
        partner, guard=CallGuard(switch, kill_switch_ttl=0.0), requests_per_day=2, priority_classes=classes
    )
    for _ in range(5):
        with pytest.raises(KillSwitchOn):
            client.get_intervention("sym_1")
    switch.on = False
    client.get_intervention("sym_1")  # the day's two requests are still there
    assert len(partner.sent) == 2


def test_guard_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="negative"):
        RunBudget(-1)
    with pytest.raises(ValueError, match="negative"):
        CallGuard(kill_switch_ttl=-1)


def test_every_error_type_answers_both_questions() -> None:
    # The pipeline reads these two attributes on whatever the client raises: none may be missing.
    import include.symphonics.client.errors as errors

    kinds = [k for k in vars(errors).values() if isinstance(k, type) and issubclass(k, SymphonicsError)]
    assert len(kinds) >= 12
    for kind in kinds:
        assert isinstance(kind.retryable, bool), kind
        assert isinstance(kind.nothing_sent, bool), kind
        if kind is not errors.CallRefused:  # the refusals' common parent names none
            assert kind.nothing_sent is (kind.refusal is not None), kind
