"""The partner validation's decision on one row, from its answers alone (no database, no partner)."""

from __future__ import annotations

from typing import Any

import pytest

from include.symphonics.client.errors import SymphonicsForbidden, SymphonicsUnavailable, SymphonicsValidationError
from include.symphonics.core.states import LedgerState, Reason
from include.symphonics.publish.partner_validation import (
    Failure,
    LookupAnswer,
    PartnerDecision,
    PdlAnswer,
    UserAnswer,
    _decide,
)
from include.symphonics.publish.settings import PublishSettings

SETTINGS = PublishSettings(lookup_confidence=0.8)
ACTIVE = UserAnswer(exists=True, user_id="usr_7", status="active")


def _row() -> dict[str, Any]:
    return {
        "id": 1,
        "payload": {"installation": {"address": "1 rue A", "pdl": None}, "installer": {"email": "i@x.fr"}},
    }


def _rejection(decision: PartnerDecision | None) -> tuple[LedgerState, str | None] | None:
    return None if decision is None else (decision.state, decision.reason)


@pytest.mark.parametrize(
    ("pdl_answer", "user_answer", "expected"),
    [
        (PdlAnswer(valid=False, message="inconnu"), ACTIVE, (LedgerState.REJECTED_VALIDATION, Reason.PDL_INVALID)),
        (LookupAnswer(found=False), ACTIVE, (LedgerState.REJECTED_VALIDATION, Reason.PDL_LOOKUP_NOT_FOUND)),
        (
            LookupAnswer(found=True, pdl="12345678901234", confidence=0.5),
            ACTIVE,
            (LedgerState.REJECTED_VALIDATION, Reason.PDL_LOOKUP_LOW_CONFIDENCE),
        ),
        (PdlAnswer(valid=True), UserAnswer(exists=False), (LedgerState.REJECTED_VALIDATION, Reason.INSTALLER_UNKNOWN)),
        (
            PdlAnswer(valid=True),
            UserAnswer(exists=True, user_id="usr_7", status="suspended"),
            (LedgerState.REJECTED_VALIDATION, Reason.INSTALLER_INACTIVE),
        ),
        # The PDL first: an unknown PDL is the reason even when the installer is unknown too.
        (PdlAnswer(valid=False), UserAnswer(exists=False), (LedgerState.REJECTED_VALIDATION, Reason.PDL_INVALID)),
        # A missing answer, or a failure that may pass, leaves the row waiting.
        (None, ACTIVE, None),
        (PdlAnswer(valid=True), None, None),
        (Failure(SymphonicsUnavailable("503", status=503)), ACTIVE, None),
        (PdlAnswer(valid=True), Failure(SymphonicsUnavailable("timeout")), None),
        (
            Failure(SymphonicsValidationError("bad PDL", status=422)),
            ACTIVE,
            (LedgerState.REJECTED_VALIDATION, Reason.PARTNER_REFUSED),
        ),
        # A 403 on the row's PDL or installer sets the row aside for ops: no rejection of the data is claimed.
        (
            Failure(SymphonicsForbidden("forbidden", status=403)),
            ACTIVE,
            (LedgerState.DEAD_LETTER, Reason.PARTNER_FORBIDDEN),
        ),
        (
            PdlAnswer(valid=True),
            Failure(SymphonicsForbidden("forbidden", status=403)),
            (LedgerState.DEAD_LETTER, Reason.PARTNER_FORBIDDEN),
        ),
    ],
)
def test_the_decision_of_each_answer(pdl_answer: Any, user_answer: Any, expected: Any) -> None:
    assert _rejection(_decide(_row(), pdl_answer, user_answer, SETTINGS)) == expected


def test_a_row_that_passes_is_ready_with_the_pdl_found_and_the_installers_id() -> None:
    decision = _decide(_row(), LookupAnswer(found=True, pdl="12345678901234", confidence=0.9), ACTIVE, SETTINGS)
    assert decision is not None
    assert decision.state is LedgerState.READY
    assert decision.reason is None
    assert decision.payload is not None
    assert decision.payload["installation"]["pdl"] == "12345678901234"
    assert decision.payload["installer"] == {"email": "i@x.fr", "id": "usr_7"}
    update = decision.as_update(1, "run_1")
    assert update["state"] == "ready"
    assert update["payload_fingerprint"]


def test_a_refused_call_keeps_the_partners_error_on_the_row() -> None:
    error = SymphonicsValidationError("refused", status=422, code="INVALID", request_id="req_1")
    decision = _decide(_row(), Failure(error), ACTIVE, SETTINGS)
    assert decision is not None
    update = decision.as_update(1, "run_1")
    assert (update["reason"], update["error_code"], update["request_id"]) == ("partner_refused", "INVALID", "req_1")


def test_a_decision_outside_the_transitions_is_refused() -> None:
    with pytest.raises(ValueError, match="never moves"):
        PartnerDecision(LedgerState.PUBLISHED).as_update(1, "run_1")
