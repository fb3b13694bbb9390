"""Every fault kind, armed through the admin API and through start-up configuration."""

from __future__ import annotations

import pytest
import requests

from tests.fixtures.sandbox import SandboxAdmin, start_sandbox
from tests.sandbox.documented_examples import create_request
from tests.sandbox.partner import PartnerCaller, assert_error

pytestmark = pytest.mark.integration  # a real sandbox over loopback

PDL_PATH = "/validation/pdl/12345678901234"


def test_burst_of_5xx_then_normal(sandbox: SandboxAdmin, partner: PartnerCaller) -> None:
    sandbox.burst("validation.pdl", count=3, status=503)
    statuses = [partner.get(PDL_PATH).status_code for _ in range(4)]
    assert statuses == [503, 503, 503, 200]
    assert [c["fault"] for c in sandbox.calls(PDL_PATH)] == ["burst", "burst", "burst", None]


def test_burst_error_body_is_in_the_documented_format(sandbox: SandboxAdmin, partner: PartnerCaller) -> None:
    sandbox.burst("crm", count=1, status=500)
    assert_error(partner.create(create_request("int_burst")), 500, "SERVER_ERROR")
    assert sandbox.interventions() == []  # the failure happened before anything was committed


def test_burst_only_hits_its_route(sandbox: SandboxAdmin, partner: PartnerCaller) -> None:
    sandbox.burst("crm.create_intervention", count=5)
    assert partner.get(PDL_PATH).status_code == 200


def test_error_rate(sandbox: SandboxAdmin, partner: PartnerCaller) -> None:
    sandbox.error_rate("validation.pdl", rate=1.0, status=502)
    assert partner.get(PDL_PATH).status_code == 502
    sandbox.error_rate("validation.pdl", rate=0.0)
    assert partner.get(PDL_PATH).status_code == 200
    sandbox.error_rate("*", rate=0.5)
    statuses = {partner.get(PDL_PATH).status_code for _ in range(60)}
    assert statuses == {200, 500}


def test_storm_of_429(sandbox: SandboxAdmin, partner: PartnerCaller) -> None:
    sandbox.storm_429("*", count=2, retry_after=7)
    for _ in range(2):
        response = partner.get(PDL_PATH)
        assert_error(response, 429, "RATE_LIMITED")
        assert response.headers["Retry-After"] == "7"
        assert response.headers["X-RateLimit-Remaining"] == "0"
    assert partner.get(PDL_PATH).status_code == 200


def test_a_long_retry_after_alone(sandbox: SandboxAdmin, partner: PartnerCaller) -> None:
    # A partner that asks for ten minutes and says nothing else (issue 23): no X-RateLimit-* header to read.
    sandbox.storm_429("validation.pdl", count=1, retry_after=600, rate_headers=False)
    response = partner.get(PDL_PATH)
    assert_error(response, 429, "RATE_LIMITED")
    assert response.headers["Retry-After"] == "600"
    assert not [name for name in response.headers if name.lower().startswith("x-ratelimit")]
    assert partner.get(PDL_PATH).status_code == 200
    with pytest.raises(AssertionError, match="422"):
        sandbox.fault("storm_429", "validation.pdl", rate_headers="no")


def test_latency(sandbox: SandboxAdmin, partner: PartnerCaller) -> None:
    sandbox.latency("validation.pdl", seconds=0.5)
    with pytest.raises(requests.exceptions.ReadTimeout):
        partner.get(PDL_PATH, timeout=0.1)
    assert partner.get(PDL_PATH, timeout=5).status_code == 200
    assert sandbox.calls(PDL_PATH)[-1]["fault"] == "latency"


def test_hang_past_the_client_timeout(sandbox: SandboxAdmin, partner: PartnerCaller) -> None:
    sandbox.hang("crm.create_intervention", seconds=30, count=1)
    with pytest.raises(requests.exceptions.ReadTimeout):
        partner.create(create_request("int_hang"), timeout=0.3)
    sandbox.wait_for(lambda: sandbox.calls("/crm/"))
    (call,) = sandbox.calls("/crm/")
    assert call["status"] is None
    assert call["fault"] == "hang"
    assert sandbox.interventions() == []  # the hang was before the commit: retrying is safe
    assert partner.create(create_request("int_hang")).status_code == 201


def test_short_hang_then_normal_answer(sandbox: SandboxAdmin, partner: PartnerCaller) -> None:
    sandbox.hang("crm.create_intervention", seconds=0.2, count=1)
    assert partner.create(create_request("int_short_hang"), timeout=5).status_code == 201


def test_drop_after_commit(sandbox: SandboxAdmin, partner: PartnerCaller) -> None:
    sandbox.drop_after_commit()
    with pytest.raises(requests.exceptions.ConnectionError):
        partner.create(create_request("int_lost"))
    (record,) = sandbox.interventions()
    assert record["external_id"] == "int_lost"  # committed although the client never heard
    (call,) = sandbox.calls("/crm/")
    assert call["status"] is None
    assert call["fault"] == "drop_after_commit"
    retry = partner.create(create_request("int_lost"))
    assert retry.status_code == 409  # the retry finds what the lost response had created


def test_drop_waits_for_a_create_that_commits(sandbox: SandboxAdmin, partner: PartnerCaller) -> None:
    sandbox.drop_after_commit()
    assert partner.create({"external_id": "bad"}).status_code == 422
    with pytest.raises(requests.exceptions.ConnectionError):
        partner.create(create_request("int_lost_later"))


def test_faults_are_cleared_by_reset_and_delete(sandbox: SandboxAdmin, partner: PartnerCaller) -> None:
    sandbox.burst("*", count=10)
    sandbox.clear_faults()
    assert partner.get(PDL_PATH).status_code == 200
    sandbox.latency("*", seconds=5)
    sandbox.reset()
    assert sandbox.faults()["latency"] == {}


def test_unknown_fault_kind_or_route_is_refused(sandbox: SandboxAdmin) -> None:
    for body in ({"kind": "meteor"}, {"kind": "burst", "route": "nowhere"}, {"kind": "error_rate", "rate": 2}):
        response = requests.post(f"{sandbox.url}/_sandbox/faults", json=body, headers=sandbox.admin_headers, timeout=5)
        assert_error(response, 422, "VALIDATION_ERROR")


def test_faults_from_start_up_configuration(tmp_path: object) -> None:
    server = start_sandbox({"faults": {"burst": {"validation": 2}, "seed": 1}}, workdir=tmp_path)  # type: ignore[arg-type]
    try:
        admin = SandboxAdmin(server.url)
        partner = PartnerCaller(admin)
        assert [partner.get(PDL_PATH).status_code for _ in range(3)] == [503, 503, 200]
        admin.reset()  # start-up faults are armed again
        partner = PartnerCaller(admin)
        assert partner.get(PDL_PATH).status_code == 503
    finally:
        server.stop()
