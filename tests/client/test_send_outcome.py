"""The outcome of one create, the client's lost-create case without a server: the partner's reply (or its absence)
into ``CREATED``, ``ALREADY_EXISTS`` or ``ALREADY_EXISTS_ID_UNKNOWN``, and never a second intervention."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from include.symphonics.client import CreateOutcome, SymphonicsValidationError
from tests.client.test_sorting_and_guard import Answer, ScriptedPartner, _client, _error

CREATED = (201, {"id": "sym_1", "external_id": "int_1", "status": "received", "created_at": "2026-11-28T00:00:00Z"})
CONFLICT_WITH_ID = (
    409,
    {"error": {"code": "CONFLICT", "message": "exists", "details": [{"existing_id": "sym_1"}], "request_id": "r"}},
)
CONFLICT_BARE = (409, {"error": {"code": "CONFLICT", "message": "exists", "request_id": "r"}})


def _creates(*answers: Answer) -> ScriptedPartner:
    script = list(answers)
    return ScriptedPartner(lambda _request: script.pop(0))


def test_a_created_reply_gives_the_partners_id() -> None:
    result = _client(_creates(CREATED)).create_intervention({"external_id": "int_1"})
    assert (result.outcome, result.symphonics_id, result.external_id) == (CreateOutcome.CREATED, "sym_1", "int_1")


@pytest.mark.parametrize(
    ("conflict", "outcome", "symphonics_id"),
    [
        (CONFLICT_WITH_ID, CreateOutcome.ALREADY_EXISTS, "sym_1"),
        (CONFLICT_BARE, CreateOutcome.ALREADY_EXISTS_ID_UNKNOWN, None),
    ],
)
def test_a_create_whose_reply_was_lost_is_sent_again_and_its_409_is_a_result(
    conflict: tuple[int, dict[str, Any]], outcome: CreateOutcome, symphonics_id: str | None
) -> None:
    partner = _creates(requests.ReadTimeout("the reply was lost"), conflict)
    result = _client(partner).create_intervention({"external_id": "int_1"})
    assert (result.outcome, result.symphonics_id) == (outcome, symphonics_id)
    assert partner.paths() == ["POST /auth/token", "POST /crm/interventions", "POST /crm/interventions"]


def test_a_refused_payload_is_an_error_sent_once() -> None:
    partner = _creates((422, _error("VALIDATION_ERROR")))
    with pytest.raises(SymphonicsValidationError) as raised:
        _client(partner).create_intervention({"external_id": "int_1"})
    assert not raised.value.retryable
    assert partner.paths().count("POST /crm/interventions") == 1
