"""The client against the sandbox over real HTTP, with its shared state in the ``sync`` database."""

from __future__ import annotations

import copy
import logging
import time
from collections import Counter
from typing import Any

import pytest

from include.symphonics.client import (
    ClassQuota,
    CreateOutcome,
    QuotaExhausted,
    SymphonicsAuthError,
    SymphonicsClient,
    SymphonicsNotFound,
    SymphonicsRateLimited,
    SymphonicsUnavailable,
)
from tests.client import workers
from tests.client.conftest import MakeClient, api_calls
from tests.fixtures.sandbox import SandboxAdmin

pytestmark = pytest.mark.integration

PDL = "12345678901234"
INVALID_PDL = "45678901234567"
EMAIL = "test.user@example.com"
ADDRESS = {"street": "123 Rue de Paris", "postal_code": "75001", "city": "Paris"}
PAYLOAD: dict[str, Any] = {
    "customer": {
        "first_name": "Thomas",
        "last_name": "Martin",
        "email": "thomas.martin@example.com",
        "phone": "+33612345678",
    },
    "installation": {
        "address": "45 Rue des Fleurs",
        "postal_code": "75015",
        "city": "Paris",
        "pdl": PDL,
        "pce": "98765432109876",
    },
    "services": [{"code": "BAR-TH-173", "name": "Régulateur de ballon d'eau chaude", "quantity": 1}],
    "equipment": [{"name": "Régulateur Thaléos", "model": "RT-2000", "serial_number": "TH2023456789", "quantity": 1}],
    "documents": [
        {
            "type": "invoice",
            "name": "Facture - Thomas Martin - 25/03/2025",
            "url": "https://app.workforce-automation.com/documents/int_12345678/invoice.pdf",
        }
    ],
    "photos": [],
    "installer": {"id": "usr_87654321", "company_id": "cmp_12345678", "name": "Jean Dupont"},
    "completion_date": "2025-03-25T11:30:00Z",
    "external_id": "int_12345678",
}


def _payload(external_id: str) -> dict[str, Any]:
    payload = copy.deepcopy(PAYLOAD)
    payload["external_id"] = external_id
    return payload


def _statuses(sandbox: SandboxAdmin, prefix: str) -> list[int]:
    # Filtered here: SandboxAdmin.calls(path_prefix) passes ``path=`` twice to _admin (reported to the lead).
    return [call["status"] for call in sandbox.calls() if call["path"].startswith(prefix)]


# -- every method --------------------------------------------------------------------------------------


def test_every_method(make_client: MakeClient, sandbox: SandboxAdmin, clean_sync: str) -> None:
    client = make_client()

    valid = client.validate_pdl(PDL)
    assert valid.valid
    assert valid.address is not None
    assert valid.address.city == "Paris"
    invalid = client.validate_pdl(INVALID_PDL)
    assert not invalid.valid
    assert invalid.message

    lookup = client.lookup_pdl(ADDRESS, "Martin", priority="reconcile")
    assert lookup.found
    assert lookup.pdl == PDL

    assert client.validate_user(EMAIL).active
    assert not client.validate_user("nonexistent@example.com").exists

    created = client.create_intervention(_payload("int_every_method"))
    assert created.outcome is CreateOutcome.CREATED
    assert created.symphonics_id
    fetched = client.get_intervention(created.symphonics_id, priority="reconcile")
    assert fetched.id == created.symphonics_id
    assert fetched.external_id == "int_every_method"
    extra_document = {"type": "additional_proof", "name": "Preuve", "url": "https://app.example.com/p.pdf"}
    updated = client.update_intervention(created.symphonics_id, {"documents": [extra_document]})
    assert updated.id == created.symphonics_id
    assert updated.status == "updated"
    with pytest.raises(SymphonicsNotFound) as missing:
        client.get_intervention("sym_00000000")
    assert missing.value.status == 404
    assert missing.value.code == "NOT_FOUND"
    assert missing.value.request_id

    rows = api_calls(clean_sync)
    assert len(rows) == len(sandbox.calls()) == 10  # nine operations and one token request
    assert sum(row["token_request"] for row in rows) == 1
    assert {row["path"] for row in rows} >= {"/validation/pdl/1234******1234", "/validation/user/t***@example.com"}
    assert all(row["request_id"] and row["request_id"].startswith("req_") for row in rows)
    assert Counter(row["priority_class"] for row in rows) == {"publish": 7, "reconcile": 3}


# -- tokens --------------------------------------------------------------------------------------------


def test_token_is_renewed_before_it_expires(make_client: MakeClient, sandbox: SandboxAdmin) -> None:
    sandbox.configure(token_expires_in=2)
    client = make_client(token_refresh_margin=1.0)
    client.validate_pdl(PDL)
    first = client.auth.access_token()
    time.sleep(1.1)  # past the refresh point (lifetime - margin), still before expiry
    client.validate_pdl(PDL)
    assert client.auth.access_token().value != first.value
    assert _statuses(sandbox, "/auth/token") == [200, 200]
    assert 401 not in _statuses(sandbox, "/validation")


def test_a_401_renews_the_token_once_and_sends_again(make_client: MakeClient, sandbox: SandboxAdmin) -> None:
    client = make_client()
    client.validate_pdl(PDL)
    assert sandbox.revoke_tokens() >= 1
    assert client.validate_pdl(PDL).valid
    assert [(c["path"].split("/")[1], c["status"]) for c in sandbox.calls()] == [
        ("auth", 200),
        ("validation", 200),
        ("validation", 401),
        ("auth", 200),
        ("validation", 200),
    ]


def test_bad_credentials_are_an_auth_error_without_the_secret(sandbox: SandboxAdmin, clean_sync: str) -> None:
    from include.symphonics.client import ClientSettings

    client = SymphonicsClient(ClientSettings(sandbox.url, sandbox.client_id, "wrong-secret-value-123"))
    with pytest.raises(SymphonicsAuthError) as refused:
        client.validate_pdl(PDL)
    assert "wrong-secret-value-123" not in str(refused.value)
    assert _statuses(sandbox, "/auth/token") in ([401], [400])


def test_one_token_is_shared_by_two_processes(sandbox: SandboxAdmin, clean_sync: str, fernet_key: str) -> None:
    args: tuple[Any, ...] = (sandbox.url, sandbox.client_id, sandbox.client_secret, clean_sync, fernet_key, 3, {})
    results = workers.validate_pdls_in_two_processes(args)
    assert [r["done"] for r in results] == [3, 3]
    assert _statuses(sandbox, "/auth/token") == [200]
    assert len(_statuses(sandbox, "/validation/pdl")) == 6
    stored = [row for row in api_calls(clean_sync) if row["token_request"]]
    assert len(stored) == 1


def test_the_stored_token_is_encrypted(make_client: MakeClient, clean_sync: str) -> None:
    import psycopg

    client = make_client()
    client.validate_pdl(PDL)
    token = client.auth.access_token().value
    with psycopg.connect(clean_sync) as conn:
        (stored,) = conn.execute("SELECT access_token_encrypted FROM symphonics.api_tokens").fetchone() or (b"",)
    assert token.encode() not in bytes(stored)


# -- faults and retries --------------------------------------------------------------------------------


def test_exactly_one_plus_max_retries_attempts_then_unavailable(make_client: MakeClient, sandbox: SandboxAdmin) -> None:
    client = make_client(max_retries=3)
    sandbox.error_rate("validation.pdl", 1.0, status=502)
    with pytest.raises(SymphonicsUnavailable) as failed:
        client.validate_pdl(PDL)
    assert failed.value.status == 502
    assert _statuses(sandbox, "/validation/pdl") == [502] * 4


def test_exactly_one_plus_max_retries_attempts_then_rate_limited(
    make_client: MakeClient, sandbox: SandboxAdmin
) -> None:
    client = make_client(max_retries=2)
    sandbox.storm_429("validation.pdl", count=50, retry_after=1)
    with pytest.raises(SymphonicsRateLimited) as failed:
        client.validate_pdl(PDL)
    assert failed.value.status == 429
    assert _statuses(sandbox, "/validation/pdl") == [429] * 3


def test_burst_of_5xx_is_retried_through(make_client: MakeClient, sandbox: SandboxAdmin, clean_sync: str) -> None:
    client = make_client()
    sandbox.burst("validation.user", count=2, status=503)
    assert client.validate_user(EMAIL).exists
    assert _statuses(sandbox, "/validation/user") == [503, 503, 200]
    attempts = [row["attempt"] for row in api_calls(clean_sync) if row["operation"] == "validate_user"]
    assert attempts == [1, 2, 3]


def test_retry_after_is_honoured(sandbox: SandboxAdmin, clean_sync: str, fernet_key: str) -> None:
    from cryptography.fernet import Fernet

    from include.symphonics.client import ClientSettings

    waits: list[float] = []

    def recording_sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    client = SymphonicsClient(
        ClientSettings(sandbox.url, sandbox.client_id, sandbox.client_secret, backoff_base=0.01),
        sleep=recording_sleep,
    )
    del Fernet, fernet_key
    sandbox.storm_429("validation.pdl", count=1, retry_after=1)
    assert client.validate_pdl(PDL).valid
    assert _statuses(sandbox, "/validation/pdl") == [429, 200]
    # The wait before the retry is the partner's Retry-After (1 s), not the 0.01 s backoff.
    assert max(waits) >= 1.0


def test_error_rate_is_ridden_out(make_client: MakeClient, sandbox: SandboxAdmin) -> None:
    client = make_client(max_retries=5)
    sandbox.fault("error_rate", "validation.pdl", rate=0.3, status=500, seed=7)
    results = [client.validate_pdl(PDL).valid for _ in range(10)]
    assert all(results)
    statuses = Counter(_statuses(sandbox, "/validation/pdl"))
    assert statuses[200] == 10


def test_latency_within_the_timeout_is_fine(make_client: MakeClient, sandbox: SandboxAdmin) -> None:
    client = make_client(read_timeout=2.0)
    sandbox.latency("validation.pdl", 0.2)
    assert client.validate_pdl(PDL).valid
    assert _statuses(sandbox, "/validation/pdl") == [200]


def test_a_hang_times_out_and_is_retried(make_client: MakeClient, sandbox: SandboxAdmin, clean_sync: str) -> None:
    client = make_client(read_timeout=0.3)
    sandbox.hang("validation.pdl", seconds=5, count=1)
    assert client.validate_pdl(PDL).valid
    rows = [row for row in api_calls(clean_sync) if row["operation"] == "validate_pdl"]
    assert [(row["status"], row["error_code"]) for row in rows] == [(None, "ReadTimeout"), (200, None)]


def test_every_attempt_hanging_ends_unavailable(make_client: MakeClient, sandbox: SandboxAdmin) -> None:
    client = make_client(read_timeout=0.2, max_retries=2)
    sandbox.hang("validation.pdl", seconds=3, count=None)
    with pytest.raises(SymphonicsUnavailable, match="timed out"):
        client.validate_pdl(PDL)
    sandbox.clear_faults()


@pytest.mark.parametrize("conflict_mode", ["bare", "with_id"])
def test_a_lost_create_response_leaves_exactly_one_intervention(
    make_client: MakeClient, sandbox: SandboxAdmin, conflict_mode: str
) -> None:
    sandbox.configure(conflict_mode=conflict_mode)
    client = make_client()
    sandbox.drop_after_commit(count=1)
    result = client.create_intervention(_payload(f"int_lost_{conflict_mode}"))
    interventions = sandbox.interventions()
    assert len(interventions) == 1
    creates = _statuses(sandbox, "/crm/interventions")
    assert creates[-1] == 409
    if conflict_mode == "with_id":
        assert result.outcome is CreateOutcome.ALREADY_EXISTS
        assert result.symphonics_id == interventions[0]["id"]
    else:
        assert result.outcome is CreateOutcome.ALREADY_EXISTS_ID_UNKNOWN
        assert result.symphonics_id is None
    # Asking again never makes a second one either.
    again = client.create_intervention(_payload(f"int_lost_{conflict_mode}"))
    assert again.outcome is not CreateOutcome.CREATED
    assert len(sandbox.interventions()) == 1


def test_compressed_request_bodies_when_enabled(make_client: MakeClient, sandbox: SandboxAdmin) -> None:
    sandbox.configure(accept_gzip=True)
    client = make_client(compress_requests=True, compress_threshold=64)
    assert client.create_intervention(_payload("int_gzip")).outcome is CreateOutcome.CREATED
    assert sandbox.interventions()[0]["external_id"] == "int_gzip"


# -- the shared quota ----------------------------------------------------------------------------------


def test_two_processes_sharing_the_quota_never_exceed_either_limit(
    sandbox: SandboxAdmin, clean_sync: str, fernet_key: str
) -> None:
    per_minute, per_day, time_scale = 6, 15, 30.0  # a minute lasts 2 s, a day 48 min
    sandbox.configure(rate_limit_per_minute=per_minute, rate_limit_per_day=per_day, time_scale=time_scale)
    settings = {
        "requests_per_minute": per_minute,
        "requests_per_day": per_day,
        "time_scale": time_scale,
        "quota_window_margin": 0.05,
        "priority_classes": {"publish": (1.0, 0.0), "reconcile": (1.0, 0.0), "ops": (1.0, 0.0)},
    }
    args = (sandbox.url, sandbox.client_id, sandbox.client_secret, clean_sync, fernet_key, 12, settings)
    results = workers.validate_pdls_in_two_processes(args)
    calls = sandbox.calls()
    assert 429 not in [call["status"] for call in calls]
    minute, day = 60.0 / time_scale, 86_400.0 / time_scale
    assert max(Counter(int(call["time"] // minute) for call in calls).values()) <= per_minute
    assert max(Counter(int(call["time"] // day) for call in calls).values()) <= per_day
    # 24 wanted, 15 a day: both processes were told at once that the day is spent.
    assert [r["exhausted"] for r in results] == [1, 1]
    assert len(calls) == len(api_calls(clean_sync))


def test_a_class_stops_at_its_share_while_another_goes_on(make_client: MakeClient, sandbox: SandboxAdmin) -> None:
    client = make_client(
        requests_per_day=20,
        priority_classes={"publish": ClassQuota(share=0.25), "reconcile": ClassQuota(1.0), "ops": ClassQuota(1.0)},
    )
    for _ in range(4):  # 5 publish requests: the token and four validations
        client.validate_pdl(PDL, priority="publish")
    sent = len(sandbox.calls())
    with pytest.raises(QuotaExhausted) as spent:
        client.validate_pdl(PDL, priority="publish")
    assert spent.value.priority == "publish"
    assert len(sandbox.calls()) == sent  # nothing was sent
    assert client.validate_pdl(PDL, priority="reconcile").valid


def test_the_partners_remaining_count_tightens_the_quota(make_client: MakeClient, sandbox: SandboxAdmin) -> None:
    # The partner allows less than we were told: its headers keep us from a 429.
    sandbox.configure(rate_limit_per_minute=3, time_scale=20.0)  # 3 s minutes
    client = make_client(requests_per_minute=100, time_scale=20.0)
    for _ in range(5):
        assert client.validate_pdl(PDL).valid
    assert 429 not in _statuses(sandbox, "/")


# -- breaker -------------------------------------------------------------------------------------------


def test_the_breaker_opens_and_recovers(make_client: MakeClient, sandbox: SandboxAdmin) -> None:
    client = make_client(max_retries=0, breaker_failures=2, breaker_reset=0.3)
    client.validate_pdl(PDL)
    sandbox.error_rate("validation.pdl", 1.0, status=500)
    for _ in range(2):
        with pytest.raises(SymphonicsUnavailable, match="failed"):
            client.validate_pdl(PDL)
    sent = len(sandbox.calls())
    with pytest.raises(SymphonicsUnavailable, match="circuit breaker is open"):
        client.validate_pdl(PDL)
    assert len(sandbox.calls()) == sent
    sandbox.clear_faults()
    time.sleep(0.35)
    assert client.validate_pdl(PDL).valid
    assert client.breaker.state == "closed"


# -- logging -------------------------------------------------------------------------------------------


def test_no_secret_token_email_or_pdl_in_any_info_line(
    make_client: MakeClient, sandbox: SandboxAdmin, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(max_retries=1)
    tokens: list[str] = []
    with caplog.at_level(logging.INFO):
        client.validate_pdl(PDL)
        tokens.append(client.auth.access_token().value)
        sandbox.revoke_tokens()
        client.validate_user(EMAIL)
        tokens.append(client.auth.access_token().value)
        client.validate_user("thomas.martin@example.com")
        sandbox.burst("validation.pdl", count=5, status=500)
        with pytest.raises(SymphonicsUnavailable) as failed:
            client.validate_pdl(PDL)
        created = client.create_intervention(_payload("int_logging"))
        client.create_intervention(_payload("int_logging"))
        assert created.symphonics_id
    lines = [record.getMessage() for record in caplog.records] + [str(failed.value)]
    assert any("1234******1234" in line for line in lines)
    assert any("t***@example.com" in line for line in lines)
    forbidden = [sandbox.client_secret, *tokens, PDL, EMAIL, "thomas.martin@example.com"]
    leaks = [(item, line) for line in lines for item in forbidden if item in line]
    assert leaks == []


def _quota_row(dsn: str, client_id: str) -> dict[str, Any]:
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(dsn) as conn, conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "SELECT server_remaining, extract(epoch FROM server_reset_at) AS reset_at, partner_per_minute, "
            "partner_per_day FROM symphonics.quota_windows WHERE client_id = %s",
            (client_id,),
        ).fetchone()
    assert row is not None
    return dict(row)


def test_a_long_retry_after_alone_ends_the_call_and_holds_every_process(
    make_client: MakeClient, sandbox: SandboxAdmin, clean_sync: str
) -> None:
    # Issue 23: a partner sending only "Retry-After: 600" once got six requests per row (the wait cut to 60 s).
    client = make_client(max_retries=5, max_quota_wait=60.0)
    sandbox.storm_429("validation.pdl", count=1, retry_after=600, rate_headers=False)
    started = time.time()
    with pytest.raises(QuotaExhausted) as ended:
        client.validate_pdl(PDL)
    assert _statuses(sandbox, "/validation/pdl") == [429]  # one request, no retry into the floor
    assert ended.value.resets_at == pytest.approx(started + 600, abs=5)
    floor = _quota_row(clean_sync, sandbox.client_id)
    assert floor["server_remaining"] == 0
    assert float(floor["reset_at"]) == pytest.approx(started + 600, abs=5)
    # Another process (its own client, the same shared quota) sends nothing before the floor either.
    with pytest.raises(QuotaExhausted):
        make_client().validate_user(EMAIL)
    assert _statuses(sandbox, "/validation/user") == []


def test_the_partners_lower_limit_is_adopted_for_every_process(
    make_client: MakeClient, sandbox: SandboxAdmin, clean_sync: str
) -> None:
    # The sandbox grants 100 a minute; this client was configured for 1000.
    client = make_client(requests_per_minute=1000)
    assert client.validate_pdl(PDL).valid
    assert _quota_row(clean_sync, sandbox.client_id)["partner_per_minute"] == 100
    other = make_client(requests_per_minute=1000)
    assert (
        other.quota.store.transact(sandbox.client_id, other.quota.policy, lambda state: state.partner_per_minute) == 100
    )
